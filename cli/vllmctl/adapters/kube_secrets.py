"""Secrets and ExternalSecrets in the cluster, External Secrets Operator detection, wait for Ready.

Everything is created or updated IN PLACE (never deleted first), so pods never see a window
without their Secret. Values travel only in API request bodies (base64 `data`).
"""

from __future__ import annotations

import base64
import time

from vllmctl.adapters.kube_client import REQUEST_TIMEOUT, Cluster, api_error
from vllmctl.core.external_secret import (
    GROUP,
    MANAGED_BY,
    PLURAL,
    STORE_PLURAL,
    VERSION,
    is_synced,
    status_message,
)
from vllmctl.errors import InvalidInput, OperationFailed


def _status(e: Exception) -> int | None:
    return getattr(e, "status", None)


_ABSENT = object()


def _call(cluster: Cluster, doing: str, fn, *args):
    """One API call with the request timeout; `_ABSENT` for 404, one clear line for the rest."""
    try:
        return fn(*args, _request_timeout=REQUEST_TIMEOUT)
    except Exception as e:  # noqa: BLE001 - mapped by api_error
        if _status(e) == 404:
            return _ABSENT
        raise api_error(e, cluster, doing) from None


# -- detection


def external_secret_api_served(cluster: Cluster) -> bool:
    """Whether the external-secrets.io/v1 API group serves ExternalSecrets (discovery, readable by all)."""
    from kubernetes import client

    resources = _call(cluster, f"discover the {GROUP}/{VERSION} API",
                      client.CustomObjectsApi(cluster.api_client).get_api_resources, GROUP, VERSION)
    if resources is _ABSENT:
        return False
    return PLURAL in {r.name for r in (resources.resources or [])}


def store_exists(cluster: Cluster, store: str) -> bool:
    from kubernetes import client

    found = _call(cluster, f"read ClusterSecretStore {store!r}",
                  client.CustomObjectsApi(cluster.api_client).get_cluster_custom_object,
                  GROUP, VERSION, STORE_PLURAL, store)
    return found is not _ABSENT


def eso_detected(cluster: Cluster, store: str) -> bool:
    """The External Secrets Operator is usable: the ExternalSecret v1 API is served AND the
    ClusterSecretStore `store` exists. No Helm release names are guessed."""
    return external_secret_api_served(cluster) and store_exists(cluster, store)


def namespace_exists(cluster: Cluster, namespace: str) -> bool:
    from kubernetes import client

    try:
        client.CoreV1Api(cluster.api_client).read_namespace(namespace, _request_timeout=REQUEST_TIMEOUT)
    except Exception as e:  # noqa: BLE001
        if _status(e) == 404:
            return False
        if _status(e) == 403:  # may not read namespaces: let the real call say what is wrong
            return True
        raise api_error(e, cluster, f"read namespace {namespace!r}") from None
    return True


# -- Secrets


def read_secret_value(cluster: Cluster, namespace: str, name: str, key: str) -> str | None:
    from kubernetes import client

    secret = _call(cluster, f"read Secret {namespace}/{name}",
                   client.CoreV1Api(cluster.api_client).read_namespaced_secret, name, namespace)
    raw = None if secret is _ABSENT else (secret.data or {}).get(key)
    return base64.b64decode(raw).decode("utf-8") if raw else None


def apply_secret(cluster: Cluster, namespace: str, name: str, key: str, value: str) -> str:
    """Create the Secret, or patch its key in place; "created", "updated" or "unchanged"."""
    from kubernetes import client

    core = client.CoreV1Api(cluster.api_client)
    encoded = base64.b64encode(value.encode("utf-8")).decode("ascii")
    body = {
        "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(MANAGED_BY)},
        "data": {key: encoded},
    }
    for _ in range(2):  # a create race with another writer becomes an update
        existing = _call(cluster, f"read Secret {namespace}/{name}", core.read_namespaced_secret, name, namespace)
        existing = None if existing is _ABSENT else existing
        try:
            if existing is None:
                core.create_namespaced_secret(namespace, body, _request_timeout=REQUEST_TIMEOUT)
                return "created"
            if (existing.data or {}).get(key) == encoded:
                return "unchanged"
            # strategic merge patch: same object (uid), only this key and the label change
            core.patch_namespaced_secret(name, namespace, {"metadata": {"labels": dict(MANAGED_BY)},
                                                           "data": {key: encoded}},
                                         _request_timeout=REQUEST_TIMEOUT)
            return "updated"
        except Exception as e:  # noqa: BLE001
            if _status(e) == 409 and existing is None:
                continue
            raise _namespaced_error(e, cluster, namespace, f"write Secret {namespace}/{name}") from None
    raise OperationFailed(f"Secret {namespace}/{name} kept changing while it was written; run again.")


def delete_secret(cluster: Cluster, namespace: str, name: str) -> bool:
    from kubernetes import client

    return _call(cluster, f"delete Secret {namespace}/{name}",
                 client.CoreV1Api(cluster.api_client).delete_namespaced_secret, name, namespace) is not _ABSENT


# -- ExternalSecrets


def read_external_secret(cluster: Cluster, namespace: str, name: str) -> dict | None:
    from kubernetes import client

    found = _call(cluster, f"read ExternalSecret {namespace}/{name}",
                  client.CustomObjectsApi(cluster.api_client).get_namespaced_custom_object,
                  GROUP, VERSION, namespace, PLURAL, name)
    return None if found is _ABSENT else found


def apply_external_secret(cluster: Cluster, manifest: dict) -> tuple[str, int]:
    """Create the ExternalSecret or replace its spec in place; (what happened, generation)."""
    from kubernetes import client

    custom = client.CustomObjectsApi(cluster.api_client)
    namespace, name = manifest["metadata"]["namespace"], manifest["metadata"]["name"]
    for _ in range(3):  # optimistic concurrency: retry on a conflicting writer
        existing = read_external_secret(cluster, namespace, name)
        try:
            if existing is None:
                created = custom.create_namespaced_custom_object(
                    GROUP, VERSION, namespace, PLURAL, manifest, _request_timeout=REQUEST_TIMEOUT)
                return "created", int(created["metadata"].get("generation") or 1)
            if existing.get("spec") == manifest["spec"] and MANAGED_BY.items() <= (
                    existing["metadata"].get("labels") or {}).items():
                return "unchanged", int(existing["metadata"].get("generation") or 1)
            existing["spec"] = manifest["spec"]
            existing["metadata"]["labels"] = {**(existing["metadata"].get("labels") or {}), **MANAGED_BY}
            replaced = custom.replace_namespaced_custom_object(
                GROUP, VERSION, namespace, PLURAL, name, existing, _request_timeout=REQUEST_TIMEOUT)
            return "updated", int(replaced["metadata"].get("generation") or 1)
        except Exception as e:  # noqa: BLE001
            if _status(e) == 409:
                continue
            raise _namespaced_error(e, cluster, namespace, f"apply ExternalSecret {namespace}/{name}") from None
    raise OperationFailed(f"ExternalSecret {namespace}/{name} kept changing while it was applied; run again.")


def wait_external_secret(cluster: Cluster, namespace: str, name: str, timeout: float) -> None:
    """Until the operator reports Ready for the current spec; else the operator's own message."""
    deadline = time.monotonic() + timeout
    obj: dict | None = None
    while True:
        obj = read_external_secret(cluster, namespace, name)
        if obj is not None and is_synced(obj):
            return
        if time.monotonic() >= deadline:
            break
        time.sleep(min(0.25, max(0.0, deadline - time.monotonic())))
    why = status_message(obj) if obj is not None else "it disappeared"
    raise OperationFailed(
        f"ExternalSecret {namespace}/{name} was not Ready within {timeout:g} s: {why}.",
        hint="Check the ClusterSecretStore and the Vault path it reads (kubectl describe externalsecret "
        f"{name} -n {namespace}); wait longer with --wait-timeout / VLLM_SECRET_TIMEOUT.",
    )


def delete_external_secret(cluster: Cluster, namespace: str, name: str) -> bool:
    from kubernetes import client

    return _call(cluster, f"delete ExternalSecret {namespace}/{name}",
                 client.CustomObjectsApi(cluster.api_client).delete_namespaced_custom_object,
                 GROUP, VERSION, namespace, PLURAL, name) is not _ABSENT


def _namespaced_error(e: Exception, cluster: Cluster, namespace: str, doing: str):
    if _status(e) == 404:
        return InvalidInput(f"could not {doing}: namespace {namespace!r} does not exist.",
                            hint="Create it with `vllmctl create-namespace` (or run install).")
    return api_error(e, cluster, doing)
