"""Secrets and ExternalSecrets in the cluster, External Secrets Operator detection, wait for Ready.

Everything is created or updated IN PLACE (never deleted first), so pods never see a window
without their Secret. Values travel only in API request bodies (base64 `data`).
"""

from __future__ import annotations

import base64
import time

from vllmctl.adapters.kube_client import ApiStatus, Cluster, api_error, request
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

_API = f"/apis/{GROUP}/{VERSION}"


def _secret_path(namespace: str, name: str = "") -> str:
    return f"/api/v1/namespaces/{namespace}/secrets" + (f"/{name}" if name else "")


def _external_secret_path(namespace: str, name: str = "") -> str:
    return f"{_API}/namespaces/{namespace}/{PLURAL}" + (f"/{name}" if name else "")


class KubeSecrets:
    """The cluster side of the secrets workflows (workflows.ports.SecretObjects), on one cluster."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster

    def describe(self) -> str:
        return self.cluster.describe()

    def _get(self, path: str, doing: str) -> dict | None:
        """The object at `path`; None for 404, one clear line for the rest."""
        try:
            return request(self.cluster, "GET", path)
        except ApiStatus as e:
            if e.status == 404:
                return None
            raise api_error(e, self.cluster, doing) from None

    def _delete(self, path: str, doing: str) -> bool:
        """False when there was nothing to delete."""
        try:
            request(self.cluster, "DELETE", path)
        except ApiStatus as e:
            if e.status == 404:
                return False
            raise api_error(e, self.cluster, doing) from None
        return True

    # -- detection

    def external_secret_api_served(self) -> bool:
        """Whether the external-secrets.io/v1 API group serves ExternalSecrets (discovery, readable by all)."""
        resources = self._get(_API, f"discover the {GROUP}/{VERSION} API")
        return resources is not None and PLURAL in {r.get("name") for r in resources.get("resources") or []}

    def store_exists(self, store: str) -> bool:
        return self._get(f"{_API}/{STORE_PLURAL}/{store}", f"read ClusterSecretStore {store!r}") is not None

    def eso_detected(self, store: str) -> bool:
        """The External Secrets Operator is usable: the ExternalSecret v1 API is served AND the
        ClusterSecretStore `store` exists. No Helm release names are guessed."""
        return self.external_secret_api_served() and self.store_exists(store)

    def namespace_exists(self, namespace: str) -> bool:
        try:
            request(self.cluster, "GET", f"/api/v1/namespaces/{namespace}")
        except ApiStatus as e:
            if e.status == 404:
                return False
            if e.status == 403:  # may not read namespaces: let the real call say what is wrong
                return True
            raise api_error(e, self.cluster, f"read namespace {namespace!r}") from None
        return True

    # -- Secrets

    def read_secret_value(self, namespace: str, name: str, key: str) -> str | None:
        secret = self._get(_secret_path(namespace, name), f"read Secret {namespace}/{name}")
        raw = ((secret or {}).get("data") or {}).get(key)
        return base64.b64decode(raw).decode("utf-8") if raw else None

    def apply_secret(self, namespace: str, name: str, key: str, value: str) -> str:
        """Create the Secret, or patch its key in place; "created", "updated" or "unchanged"."""
        encoded = base64.b64encode(value.encode("utf-8")).decode("ascii")
        body = {
            "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": {"name": name, "namespace": namespace, "labels": dict(MANAGED_BY)},
            "data": {key: encoded},
        }
        for _ in range(2):  # a create race with another writer becomes an update
            existing = self._get(_secret_path(namespace, name), f"read Secret {namespace}/{name}")
            try:
                if existing is None:
                    request(self.cluster, "POST", _secret_path(namespace), body=body)
                    return "created"
                if (existing.get("data") or {}).get(key) == encoded:
                    return "unchanged"
                # strategic merge patch: same object (uid), only this key and the label change
                request(self.cluster, "PATCH", _secret_path(namespace, name),
                        body={"metadata": {"labels": dict(MANAGED_BY)}, "data": {key: encoded}},
                        content_type="application/strategic-merge-patch+json")
                return "updated"
            except ApiStatus as e:
                if e.status == 409 and existing is None:
                    continue
                raise self._namespaced_error(e, namespace, f"write Secret {namespace}/{name}") from None
        raise OperationFailed(f"Secret {namespace}/{name} kept changing while it was written; run again.")

    def delete_secret(self, namespace: str, name: str) -> bool:
        return self._delete(_secret_path(namespace, name), f"delete Secret {namespace}/{name}")

    # -- ExternalSecrets

    def read_external_secret(self, namespace: str, name: str) -> dict | None:
        return self._get(_external_secret_path(namespace, name), f"read ExternalSecret {namespace}/{name}")

    def apply_external_secret(self, manifest: dict) -> tuple[str, int]:
        """Create the ExternalSecret or replace its spec in place; (what happened, generation)."""
        namespace, name = manifest["metadata"]["namespace"], manifest["metadata"]["name"]
        for _ in range(3):  # optimistic concurrency: retry on a conflicting writer
            existing = self.read_external_secret(namespace, name)
            try:
                if existing is None:
                    created = request(self.cluster, "POST", _external_secret_path(namespace), body=manifest)
                    return "created", int(created["metadata"].get("generation") or 1)
                if existing.get("spec") == manifest["spec"] and MANAGED_BY.items() <= (
                        existing["metadata"].get("labels") or {}).items():
                    return "unchanged", int(existing["metadata"].get("generation") or 1)
                existing["spec"] = manifest["spec"]
                existing["metadata"]["labels"] = {**(existing["metadata"].get("labels") or {}), **MANAGED_BY}
                # replace, carrying resourceVersion: a concurrent writer makes this a 409, not a lost update
                replaced = request(self.cluster, "PUT", _external_secret_path(namespace, name), body=existing)
                return "updated", int(replaced["metadata"].get("generation") or 1)
            except ApiStatus as e:
                if e.status == 409:
                    continue
                raise self._namespaced_error(e, namespace, f"apply ExternalSecret {namespace}/{name}") from None
        raise OperationFailed(f"ExternalSecret {namespace}/{name} kept changing while it was applied; run again.")

    def wait_external_secret(self, namespace: str, name: str, timeout: float) -> None:
        """Until the operator reports Ready for the current spec; else the operator's own message."""
        deadline = time.monotonic() + timeout
        obj: dict | None = None
        while True:
            obj = self.read_external_secret(namespace, name)
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

    def delete_external_secret(self, namespace: str, name: str) -> bool:
        return self._delete(_external_secret_path(namespace, name), f"delete ExternalSecret {namespace}/{name}")

    def _namespaced_error(self, e: ApiStatus, namespace: str, doing: str) -> Exception:
        if e.status == 404:
            return InvalidInput(f"could not {doing}: namespace {namespace!r} does not exist.",
                                hint="Create it with `vllmctl create-namespace` (or run install).")
        return api_error(e, self.cluster, doing)
