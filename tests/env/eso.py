"""A small, honest stand-in for the External Secrets Operator (tests only).

``EsoStandIn.install()`` applies the project's own minimal CRDs (tests/env/crds), stores the
OpenBao root token in Secret ``external-secrets/vault-token``, creates the ClusterSecretStore
``vault-secret-store`` (provider.vault: server, path ``secret``, version ``v2``, auth.tokenSecretRef)
and starts a reconciler thread that watches ExternalSecrets in all namespaces. For each one whose
generation or annotations it has not yet reconciled (creation, every spec change, and the
``force-sync`` annotation trick), and again every ~2 s while its last sync failed (as the real
operator retries with back-off):

* reads every ``spec.data[].remoteRef`` {key, property} (and ``spec.dataFrom[].extract.key``) from
  OpenBao KV v2 at the store's mount, through the real HTTP API (hvac);
* creates, or updates IN PLACE, the target Secret (``spec.target.name``, default the
  ExternalSecret's name); ``creationPolicy`` Owner (default) adds a controller ownerReference,
  Orphan does not, Merge only updates an existing Secret, None writes nothing;
* patches ``status.conditions``: Ready/True/SecretSynced, or Ready/False/SecretSyncedError with the
  Vault error (missing path, missing property, sealed Vault, unknown store...).

``refreshInterval`` is not honoured; call ``resync()`` to re-read Vault for every ExternalSecret.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import threading
import time
from pathlib import Path

import yaml

GROUP, VERSION = "external-secrets.io", "v1"
CRD_DIR = Path(__file__).parent / "crds"
STORE_NAME = "vault-secret-store"
ESO_NAMESPACE = "external-secrets"
TOKEN_SECRET = "vault-token"


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class SyncError(Exception):
    pass


class EsoStandIn:
    def __init__(self, api_client_factory, vault):
        self._factory = api_client_factory
        self.vault = vault
        self._lock = threading.RLock()
        self._seen: dict[str, tuple] = {}  # uid -> (generation, annotations) reconciled
        self._failed: dict[str, tuple[str, str]] = {}  # uid -> (namespace, name) of failed syncs
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.errors: list[str] = []
        self.reconciles = 0

    # ------------------------------------------------------------------ installation
    def install(self) -> EsoStandIn:
        self.apply_crds()
        self.ensure_store()
        self.start()
        return self

    def apply_crds(self) -> None:
        from kubernetes import client
        from kubernetes.client.rest import ApiException

        with self._factory() as api:
            ext = client.ApiextensionsV1Api(api)
            for f in sorted(CRD_DIR.glob("*.yaml")):
                body = yaml.safe_load(f.read_text())
                try:
                    ext.create_custom_resource_definition(body)
                except ApiException as e:
                    if e.status != 409:
                        raise
                name = body["metadata"]["name"]
                deadline = time.monotonic() + 30
                while True:
                    crd = ext.read_custom_resource_definition(name)
                    conds = {c.type: c.status for c in (crd.status.conditions or [])}
                    if conds.get("Established") == "True":
                        break
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"CRD {name} not established")
                    time.sleep(0.05)
            # discovery of the new group can lag a moment behind Established
            custom = client.CustomObjectsApi(api)
            deadline = time.monotonic() + 30
            while True:
                try:
                    custom.list_cluster_custom_object(GROUP, VERSION, "clustersecretstores", limit=1)
                    custom.list_cluster_custom_object(GROUP, VERSION, "externalsecrets", limit=1)
                    break
                except ApiException:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.1)

    def ensure_store(self) -> None:
        """Create (if absent) the token Secret and the ClusterSecretStore `vault-secret-store`."""
        from kubernetes import client
        from kubernetes.client.rest import ApiException

        with self._factory() as api:
            core = client.CoreV1Api(api)
            try:
                core.create_namespace({"metadata": {"name": ESO_NAMESPACE}})
            except ApiException as e:
                if e.status != 409:
                    raise
            secret = {"metadata": {"name": TOKEN_SECRET, "namespace": ESO_NAMESPACE},
                      "stringData": {"token": self.vault.token}}
            try:
                core.create_namespaced_secret(ESO_NAMESPACE, secret)
            except ApiException as e:
                if e.status != 409:
                    raise
                core.patch_namespaced_secret(TOKEN_SECRET, ESO_NAMESPACE, secret)
            custom = client.CustomObjectsApi(api)
            store = {
                "apiVersion": f"{GROUP}/{VERSION}",
                "kind": "ClusterSecretStore",
                "metadata": {"name": STORE_NAME},
                "spec": {"provider": {"vault": {
                    "server": self.vault.addr, "path": "secret", "version": "v2",
                    "auth": {"tokenSecretRef": {"name": TOKEN_SECRET, "namespace": ESO_NAMESPACE,
                                                "key": "token"}},
                }}},
            }
            try:
                custom.create_cluster_custom_object(GROUP, VERSION, "clustersecretstores", store)
            except ApiException as e:
                if e.status != 409:
                    raise
                custom.patch_cluster_custom_object(GROUP, VERSION, "clustersecretstores", STORE_NAME,
                                                   {"spec": store["spec"]})
            custom.patch_cluster_custom_object_status(GROUP, VERSION, "clustersecretstores", STORE_NAME, {
                "status": {"capabilities": "ReadWrite", "conditions": [
                    {"type": "Ready", "status": "True", "reason": "Valid", "message": "store validated",
                     "lastTransitionTime": _now()}]}})

    def delete_store(self) -> None:
        from kubernetes import client
        from kubernetes.client.rest import ApiException

        with self._factory() as api:
            try:
                client.CustomObjectsApi(api).delete_cluster_custom_object(
                    GROUP, VERSION, "clustersecretstores", STORE_NAME)
            except ApiException as e:
                if e.status != 404:
                    raise

    # ------------------------------------------------------------------ the reconciler thread
    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._watch_loop, name="eso-stand-in", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _watch_loop(self) -> None:
        from kubernetes import client, watch
        from kubernetes.client.rest import ApiException

        with self._factory() as api:
            custom = client.CustomObjectsApi(api)
            rv = None
            while not self._stop.is_set():
                try:
                    if rv is None:
                        listing = custom.list_cluster_custom_object(GROUP, VERSION, "externalsecrets")
                        for obj in listing.get("items", []):
                            self._maybe_reconcile(api, obj)
                        rv = listing["metadata"]["resourceVersion"]
                    w = watch.Watch()
                    for ev in w.stream(custom.list_cluster_custom_object, GROUP, VERSION, "externalsecrets",
                                       resource_version=rv, timeout_seconds=2):
                        obj = ev["object"]
                        if ev["type"] == "ERROR":
                            rv = None
                            break
                        rv = obj.get("metadata", {}).get("resourceVersion", rv)
                        if ev["type"] in ("ADDED", "MODIFIED"):
                            self._maybe_reconcile(api, obj)
                        elif ev["type"] == "DELETED":
                            self._seen.pop(obj["metadata"].get("uid"), None)
                            self._failed.pop(obj["metadata"].get("uid"), None)
                        if self._stop.is_set():
                            break
                    self._retry_failed(api)
                except ApiException as e:
                    if e.status == 410:
                        rv = None
                        continue
                    self.errors.append(f"watch: {e.status} {e.reason}")
                    self._stop.wait(0.5)
                except Exception as e:  # noqa: BLE001 - keep the stand-in alive; record why
                    self.errors.append(f"watch: {e!r}")
                    rv = None
                    self._stop.wait(0.5)

    @staticmethod
    def _version(meta: dict) -> tuple:
        return meta.get("generation"), json.dumps(meta.get("annotations") or {}, sort_keys=True)

    def _maybe_reconcile(self, api, obj: dict) -> None:
        meta = obj["metadata"]
        if meta.get("deletionTimestamp"):
            return
        with self._lock:
            if self._seen.get(meta["uid"]) == self._version(meta):
                return
            self.reconcile(obj, api)

    def _retry_failed(self, api) -> None:
        from kubernetes import client
        from kubernetes.client.rest import ApiException

        custom = client.CustomObjectsApi(api)
        for uid, (ns, name) in list(self._failed.items()):
            try:
                obj = custom.get_namespaced_custom_object(GROUP, VERSION, ns, "externalsecrets", name)
            except ApiException:
                self._failed.pop(uid, None)
                continue
            if obj["metadata"]["uid"] == uid and not obj["metadata"].get("deletionTimestamp"):
                with self._lock:
                    self.reconcile(obj, api)

    def resync(self) -> None:
        """Reconcile every ExternalSecret now (re-reading Vault), synchronously."""
        from kubernetes import client

        with self._factory() as api, self._lock:
            custom = client.CustomObjectsApi(api)
            for obj in custom.list_cluster_custom_object(GROUP, VERSION, "externalsecrets").get("items", []):
                if not obj["metadata"].get("deletionTimestamp"):
                    self.reconcile(obj, api)

    # ------------------------------------------------------------------ one reconcile
    def reconcile(self, obj: dict, api) -> None:
        from kubernetes import client
        from kubernetes.client.rest import ApiException

        self.reconciles += 1
        meta = obj["metadata"]
        ns, name = meta["namespace"], meta["name"]
        custom = client.CustomObjectsApi(api)
        try:
            data = self._fetch(obj, api)
            self._write_secret(obj, data, api)
            cond = {"type": "Ready", "status": "True", "reason": "SecretSynced",
                    "message": "secret synced", "lastTransitionTime": _now()}
        except SyncError as e:
            cond = {"type": "Ready", "status": "False", "reason": "SecretSyncedError",
                    "message": str(e), "lastTransitionTime": _now()}
        status = {"conditions": [cond], "refreshTime": _now(),
                  "syncedResourceVersion": f"{meta.get('generation')}-{meta.get('resourceVersion')}",
                  "binding": {"name": (obj.get("spec", {}).get("target") or {}).get("name") or name}}
        try:
            custom.patch_namespaced_custom_object_status(GROUP, VERSION, ns, "externalsecrets", name,
                                                         {"status": status})
        except ApiException as e:
            if e.status != 404:
                self.errors.append(f"{ns}/{name}: status patch: {e.status} {e.reason}")
                return
        self._seen[meta["uid"]] = self._version(meta)
        if cond["status"] == "True":
            self._failed.pop(meta["uid"], None)
        else:
            self._failed[meta["uid"]] = (ns, name)

    def _store(self, spec: dict, api) -> dict:
        from kubernetes import client
        from kubernetes.client.rest import ApiException

        ref = spec.get("secretStoreRef") or {}
        kind = ref.get("kind", "SecretStore")
        if kind != "ClusterSecretStore":
            raise SyncError(f"could not get store: kind {kind!r} is not supported by the test stand-in")
        try:
            store = client.CustomObjectsApi(api).get_cluster_custom_object(
                GROUP, VERSION, "clustersecretstores", ref.get("name", ""))
        except ApiException as e:
            raise SyncError(f"could not get ClusterSecretStore {ref.get('name')!r}: {e.reason}") from None
        vault = ((store.get("spec") or {}).get("provider") or {}).get("vault")
        if not vault:
            raise SyncError(f"ClusterSecretStore {ref.get('name')!r} has no vault provider")
        token_ref = ((vault.get("auth") or {}).get("tokenSecretRef")) or {}
        try:
            sec = client.CoreV1Api(api).read_namespaced_secret(token_ref.get("name", ""),
                                                               token_ref.get("namespace", ESO_NAMESPACE))
            token = base64.b64decode((sec.data or {})[token_ref.get("key", "token")]).decode()
        except (ApiException, KeyError) as e:
            raise SyncError(f"could not read the vault token secret: {e}") from None
        return {"server": vault.get("server"), "path": vault.get("path", "secret"),
                "version": vault.get("version", "v2"), "token": token}

    def _read_vault(self, store: dict, key: str) -> dict:
        import hvac
        import hvac.exceptions

        mount = store["path"].strip("/")
        rel = key[len(mount) + 1:] if key.startswith(mount + "/") else key
        vc = hvac.Client(url=store["server"], token=store["token"], timeout=5)
        try:
            if store["version"] == "v1":
                return vc.secrets.kv.v1.read_secret(path=rel, mount_point=mount)["data"]
            resp = vc.secrets.kv.v2.read_secret_version(path=rel, mount_point=mount,
                                                        raise_on_deleted_version=True)
            return resp["data"]["data"] or {}
        except hvac.exceptions.InvalidPath:
            raise SyncError(f"could not get secret data from provider: Secret does not exist "
                            f"(vault path {mount}/data/{rel})") from None
        except hvac.exceptions.VaultError as e:
            raise SyncError(f"could not get secret data from provider: {type(e).__name__}: {e}") from None
        except Exception as e:  # noqa: BLE001 - connection refused, timeouts
            raise SyncError(f"could not get secret data from provider: {e}") from None

    def _fetch(self, obj: dict, api) -> dict[str, str]:
        spec = obj.get("spec") or {}
        store = self._store(spec, api)
        out: dict[str, str] = {}
        for item in spec.get("data") or []:
            ref = item.get("remoteRef") or {}
            values = self._read_vault(store, ref.get("key", ""))
            prop = ref.get("property")
            if prop:
                if prop not in values:
                    raise SyncError(f"could not get secret data from provider: property {prop!r} "
                                    f"not found in {ref.get('key')!r}")
                value = values[prop]
            else:
                value = values
            out[item["secretKey"]] = value if isinstance(value, str) else json.dumps(value)
        for item in spec.get("dataFrom") or []:
            key = (item.get("extract") or {}).get("key")
            if key:
                for k, v in self._read_vault(store, key).items():
                    out[k] = v if isinstance(v, str) else json.dumps(v)
        return out

    def _write_secret(self, obj: dict, data: dict[str, str], api) -> None:
        from kubernetes import client
        from kubernetes.client.rest import ApiException

        meta, spec = obj["metadata"], obj.get("spec") or {}
        target = spec.get("target") or {}
        policy = target.get("creationPolicy", "Owner")
        if policy == "None":
            return
        name, ns = target.get("name") or meta["name"], meta["namespace"]
        template = target.get("template") or {}
        tmeta = template.get("metadata") or {}
        encoded = {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}
        core = client.CoreV1Api(api)
        labels = {**(tmeta.get("labels") or {}), "reconcile.external-secrets.io/managed": "true"}
        owner = [{"apiVersion": f"{GROUP}/{VERSION}", "kind": "ExternalSecret", "name": meta["name"],
                  "uid": meta["uid"], "controller": True, "blockOwnerDeletion": True}]
        try:
            existing = core.read_namespaced_secret(name, ns)
        except ApiException as e:
            if e.status != 404:
                raise SyncError(f"could not read target secret: {e.reason}") from None
            existing = None
        if existing is None:
            if policy == "Merge":
                raise SyncError(f"target secret {name!r} does not exist (creationPolicy Merge)")
            body = {"apiVersion": "v1", "kind": "Secret", "type": template.get("type", "Opaque"),
                    "metadata": {"name": name, "namespace": ns, "labels": labels,
                                 "annotations": tmeta.get("annotations") or {}},
                    "data": encoded}
            if policy == "Owner":
                body["metadata"]["ownerReferences"] = owner
            core.create_namespaced_secret(ns, body)
            return
        # update in place: same object (uid), new data
        existing.data = encoded if policy != "Merge" else {**(existing.data or {}), **encoded}
        existing.metadata.labels = {**(existing.metadata.labels or {}), **labels}
        if policy == "Owner" and not existing.metadata.owner_references:
            existing.metadata.owner_references = [client.V1OwnerReference(
                api_version=f"{GROUP}/{VERSION}", kind="ExternalSecret", name=meta["name"],
                uid=meta["uid"], controller=True, block_owner_deletion=True)]
        core.replace_namespaced_secret(name, ns, existing)
