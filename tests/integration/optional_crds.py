"""Optional APIs for one test: the project's own minimal CRD stand-ins in tests/env/optional-crds/
(KEDA's ScaledObject, KubeRay's RayCluster), served while the test runs; no operator acts on them."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path

import yaml

CRDS = Path(__file__).resolve().parents[1] / "env" / "optional-crds"


@contextlib.contextmanager
def served_crd(kube_env, file: str) -> Iterator[None]:
    """The CRD of `file` established (and discoverable) inside the block, deleted after it."""
    from kubernetes import client

    body = yaml.safe_load((CRDS / file).read_text())
    name = body["metadata"]["name"]
    with kube_env.api_client() as api:
        ext = client.ApiextensionsV1Api(api)
        ext.create_custom_resource_definition(body)
        deadline = time.monotonic() + 30
        while not any(c.type == "Established" and c.status == "True"
                      for c in ext.read_custom_resource_definition(name).status.conditions or []):
            assert time.monotonic() < deadline, f"{name} not established"
            time.sleep(0.1)
    time.sleep(1)  # discovery of a new group lags a moment behind Established
    try:
        yield
    finally:
        with kube_env.api_client() as api:
            delete_crd(api, name)


def delete_crd(api, name: str) -> None:
    """Delete the CRD (one already gone is fine) and wait until the API server no longer has it."""
    from kubernetes import client

    ext = client.ApiextensionsV1Api(api)
    try:
        ext.delete_custom_resource_definition(name)
    except client.exceptions.ApiException as e:
        if e.status != 404:
            raise
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            ext.read_custom_resource_definition(name)
        except client.exceptions.ApiException:
            break
        time.sleep(0.2)
