"""Shared by the tests/integration/test_secrets_*.py modules: CLI environment, reads, a Secret watcher."""

from __future__ import annotations

import base64
import threading

from kubernetes import client, watch
from kubernetes.client.rest import ApiException

ES_GROUP, ES_VERSION = "external-secrets.io", "v1"
CLOSED_PORT_URL = "http://127.0.0.1:9"  # nothing listens on the discard port: an unreachable Hub


def secrets_env(kube_env, namespace, home, vault=None, **extra) -> dict[str, str]:
    """Environment for the CLI child: this cluster and namespace, an empty HOME (no ~/.vault-token
    of the developer), an unreachable Hub unless a test says otherwise, and `vault` when given."""
    env = {**kube_env.env(), "VLLM_NAMESPACE": namespace, "HOME": str(home), "HF_ENDPOINT": CLOSED_PORT_URL}
    if vault is not None:
        env.update(vault.env())
    env.update({k: str(v) for k, v in extra.items()})
    return env


def read_secret(api, namespace, name):
    try:
        return client.CoreV1Api(api).read_namespaced_secret(name, namespace)
    except ApiException as e:
        if e.status == 404:
            return None
        raise


def secret_value(api, namespace, name, key):
    secret = read_secret(api, namespace, name)
    if secret is None or not (secret.data or {}).get(key):
        return None
    return base64.b64decode(secret.data[key]).decode()


def read_external_secret(api, namespace, name):
    try:
        return client.CustomObjectsApi(api).get_namespaced_custom_object(
            ES_GROUP, ES_VERSION, namespace, "externalsecrets", name)
    except ApiException as e:
        if e.status == 404:
            return None
        raise


def vault_value(vault, path, field, mount="secret"):
    import hvac.exceptions

    try:
        data = vault.client().secrets.kv.v2.read_secret_version(
            path=path, mount_point=mount, raise_on_deleted_version=True)
    except hvac.exceptions.InvalidPath:
        return None
    return data["data"]["data"].get(field)


def vault_delete(vault, path, mount="secret"):
    vault.client().secrets.kv.v2.delete_metadata_and_all_versions(path=path, mount_point=mount)


class SecretWatcher:
    """Records every watch event on one Secret (type, uid, value of `key`) from a background thread."""

    def __init__(self, api_factory, namespace, name, key):
        self.events: list[tuple[str, str, str | None]] = []
        self._args = (api_factory, namespace, name, key)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._ready = threading.Event()

    def __enter__(self):
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(10)

    def _run(self):
        factory, namespace, name, key = self._args
        with factory() as api:
            core = client.CoreV1Api(api)
            rv = core.list_namespaced_secret(namespace).metadata.resource_version
            self._ready.set()
            while not self._stop.is_set():
                w = watch.Watch()
                for ev in w.stream(core.list_namespaced_secret, namespace, resource_version=rv,
                                   field_selector=f"metadata.name={name}", timeout_seconds=1):
                    obj = ev["object"]
                    rv = obj.metadata.resource_version
                    raw = (obj.data or {}).get(key)
                    value = base64.b64decode(raw).decode() if raw else None
                    self.events.append((ev["type"], obj.metadata.uid, value))
                    if self._stop.is_set():
                        break

    def types(self):
        return [t for t, _, _ in self.events]

    def assert_never_missing(self, old: str, new: str) -> None:
        """What a pod reading the Secret sees: one object throughout, changed in place (no DELETED, no
        ADDED after a delete), its key always holding the old value or the new one, ending at the new."""
        assert self.events, "the watch saw no change at all"
        assert set(self.types()) == {"MODIFIED"}, self.types()
        assert len({uid for _, uid, _ in self.events}) == 1
        values = [v for _, _, v in self.events]
        assert set(values) <= {old, new} and values[-1] == new, "the key was missing or held another value"
