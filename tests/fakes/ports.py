"""Small honest in-memory implementations of workflows.ports, for in-process workflow tests.

They keep the state the real servers keep (objects with uids and generations, KV versions) and
follow the same rules the workflows rely on (an ExternalSecret syncs its Secret from Vault; an
update keeps the object), so a test asserts on that state. The real adapters are tested against the
real servers in tests/integration; these fakes stand for them only where the logic is the subject.
"""

from __future__ import annotations

import base64
import itertools
from collections.abc import Iterator

from vllmctl.core.preflight import ClusterFacts
from vllmctl.errors import InvalidInput, OperationFailed, Unreachable

_uids = itertools.count(1)


class FakeVault:
    """One KV v2 mount: {path: [version 1 data, version 2 data, ...]}."""

    def __init__(self, *, reachable: bool = True) -> None:
        self.paths: dict[str, list[dict[str, str]]] = {}
        self.reachable = reachable

    def _check(self) -> None:
        if not self.reachable:
            raise Unreachable("cannot reach Vault at http://vault.test.")

    def where(self, path: str) -> str:
        return f"secret/{path} in Vault at http://vault.test"

    def read_optional(self, path: str, field: str) -> tuple[str, int] | None:
        self._check()
        versions = self.paths.get(path)
        if not versions or not versions[-1].get(field):
            return None
        return versions[-1][field], len(versions)

    def read(self, path: str, field: str) -> tuple[str, int]:
        from vllmctl.errors import VaultPathAbsent

        found = self.read_optional(path, field)
        if found is None:
            raise VaultPathAbsent(f"nothing is stored at {self.where(path)}.")
        return found

    def write_if_changed(self, path: str, field: str, value: str) -> tuple[int, bool]:
        self._check()
        current = self.read_optional(path, field)
        if current is not None and current[0] == value:
            return current[1], False
        self.paths.setdefault(path, []).append({field: value})
        return len(self.paths[path]), True

    def delete(self, path: str) -> bool:
        self._check()
        return self.paths.pop(path, None) is not None

    def check_mount(self, path: str) -> None:
        self._check()


class FakeSecretObjects:
    """Secrets and ExternalSecrets of one cluster. With `vault`, an External Secrets Operator runs:
    applying an ExternalSecret syncs its target Secret from that Vault, as the real one does."""

    def __init__(self, *, namespaces: tuple[str, ...] = ("vllm",), vault: FakeVault | None = None,
                 store: str = "vault-secret-store") -> None:
        self.namespaces = set(namespaces)
        self.secrets: dict[tuple[str, str], dict] = {}
        self.external_secrets: dict[tuple[str, str], dict] = {}
        self.vault, self.store = vault, store
        self.history: list[tuple[str, str, str]] = []  # (verb, kind, namespace/name): what a watch would see

    def describe(self) -> str:
        return "https://fake-cluster (context 'test')"

    def eso_detected(self, store: str) -> bool:
        return self.vault is not None and store == self.store

    def external_secret_api_served(self) -> bool:
        return self.vault is not None

    def namespace_exists(self, namespace: str) -> bool:
        return namespace in self.namespaces

    def read_secret_value(self, namespace: str, name: str, key: str) -> str | None:
        raw = (self.secrets.get((namespace, name)) or {}).get("data", {}).get(key)
        return base64.b64decode(raw).decode() if raw else None

    def _write_secret(self, namespace: str, name: str, key: str, value: str) -> str:
        if namespace not in self.namespaces:
            raise InvalidInput(f"namespace {namespace!r} does not exist.")
        encoded = base64.b64encode(value.encode()).decode()
        existing = self.secrets.get((namespace, name))
        if existing is None:
            self.secrets[(namespace, name)] = {"uid": f"uid-{next(_uids)}", "data": {key: encoded}}
            self.history.append(("ADDED", "Secret", f"{namespace}/{name}"))
            return "created"
        if existing["data"].get(key) == encoded:
            return "unchanged"
        existing["data"][key] = encoded
        self.history.append(("MODIFIED", "Secret", f"{namespace}/{name}"))
        return "updated"

    def apply_secret(self, namespace: str, name: str, key: str, value: str) -> str:
        return self._write_secret(namespace, name, key, value)

    def delete_secret(self, namespace: str, name: str) -> bool:
        if self.secrets.pop((namespace, name), None) is None:
            return False
        self.history.append(("DELETED", "Secret", f"{namespace}/{name}"))
        return True

    def read_external_secret(self, namespace: str, name: str) -> dict | None:
        return self.external_secrets.get((namespace, name))

    def apply_external_secret(self, manifest: dict) -> tuple[str, int]:
        namespace, name = manifest["metadata"]["namespace"], manifest["metadata"]["name"]
        if namespace not in self.namespaces:
            raise InvalidInput(f"namespace {namespace!r} does not exist.")
        existing = self.external_secrets.get((namespace, name))
        if existing is not None and existing["spec"] == manifest["spec"]:
            return "unchanged", existing["generation"]
        generation = existing["generation"] + 1 if existing else 1
        self.external_secrets[(namespace, name)] = {"spec": manifest["spec"], "generation": generation}
        self.history.append(("MODIFIED" if existing else "ADDED", "ExternalSecret", f"{namespace}/{name}"))
        self._sync(namespace, manifest["spec"])
        return ("updated" if existing else "created"), generation

    def _sync(self, namespace: str, spec: dict) -> None:
        """The operator: the target Secret holds what Vault holds now."""
        assert self.vault is not None
        for item in spec["data"]:
            found = self.vault.read_optional(item["remoteRef"]["key"], item["remoteRef"]["property"])
            if found is not None:
                self._write_secret(namespace, spec["target"]["name"], item["secretKey"], found[0])

    def wait_external_secret(self, namespace: str, name: str, timeout: float) -> None:
        target = self.external_secrets[(namespace, name)]["spec"]["target"]["name"]
        if (namespace, target) not in self.secrets:
            raise OperationFailed(f"ExternalSecret {namespace}/{name} was not Ready within {timeout:g} s.")

    def delete_external_secret(self, namespace: str, name: str) -> bool:
        if self.external_secrets.pop((namespace, name), None) is None:
            return False
        self.history.append(("DELETED", "ExternalSecret", f"{namespace}/{name}"))
        return True


class FakeHub:
    """The Hub's metadata: repos -> gated?, tokens -> (user, repos they may read)."""

    endpoint = "https://hub.test"

    def __init__(self, gated: dict[str, bool], tokens: dict[str, tuple[str, set[str]]] | None = None) -> None:
        self.gated, self.tokens = gated, tokens or {}
        self.closed = False

    def is_gated(self, repo: str, token: str | None = None) -> bool:
        return self.gated[repo]

    def whoami(self, token: str) -> dict:
        from vllmctl.errors import HubAuthError

        if token not in self.tokens:
            raise HubAuthError("the Hugging Face token is not valid.")
        return {"name": self.tokens[token][0]}

    def has_access(self, repo: str, token: str | None = None, revision: str = "main") -> bool:
        return token in self.tokens and repo in self.tokens[token][1]

    def close(self) -> None:
        self.closed = True


class FakeKube:
    """The objects of one cluster as the API's JSON, and container logs."""

    def __init__(self, *, deployments=(), pods=(), services=(), events=(), pvcs=(), namespaces=("vllm",),
                 logs: dict[str, list[str]] | None = None, facts: ClusterFacts | None = None,
                 ingresses=(), scaled_objects=(), ray_clusters=()) -> None:
        self.deployments, self.pods, self.services = list(deployments), list(pods), list(services)
        self.ingresses, self.scaled_objects = list(ingresses), list(scaled_objects)
        self.ray_clusters = list(ray_clusters)
        self.events, self.pvcs, self.namespaces = list(events), list(pvcs), set(namespaces)
        self.logs = logs or {}
        self.facts = facts or ClusterFacts()
        self.rollouts: dict[tuple[str, str], dict[str, str]] = {}  # (namespace, release) -> records
        self.node_label_sets: list[dict[str, str]] = []

    def describe(self) -> str:
        return "https://fake-cluster (context 'test')"

    def cluster_facts(self, release: str, release_namespace: str,
                      group_versions: tuple[str, ...] = (), owned: tuple[str, ...] = ()) -> ClusterFacts:
        return self.facts

    def read_namespace(self, namespace: str) -> dict | None:
        return {"metadata": {"name": namespace}} if namespace in self.namespaces else None

    def ensure_namespace(self, namespace: str) -> bool:
        created = namespace not in self.namespaces
        self.namespaces.add(namespace)
        return created

    def delete_namespace(self, namespace: str) -> bool:
        if namespace not in self.namespaces:
            return False
        self.namespaces.discard(namespace)
        return True

    def _in(self, items: list[dict], namespace: str) -> list[dict]:
        return [i for i in items if i["metadata"].get("namespace", "vllm") == namespace]

    def list_deployments(self, namespace: str) -> list[dict]:
        return self._in(self.deployments, namespace)

    def list_pods(self, namespace: str, selector: str | None = None) -> list[dict]:
        assert selector is None, "the fake lists all pods; selectors are matched by the workflow"
        return self._in(self.pods, namespace)

    def list_events(self, namespace: str) -> list[dict]:
        return self._in(self.events, namespace)

    def list_services(self, namespace: str) -> list[dict]:
        return self._in(self.services, namespace)

    def list_ingresses(self, namespace: str) -> list[dict]:
        return self._in(self.ingresses, namespace)

    def list_scaled_objects(self, namespace: str) -> list[dict]:
        return self._in(self.scaled_objects, namespace)

    def list_ray_clusters(self, namespace: str) -> list[dict]:
        return self._in(self.ray_clusters, namespace)

    def list_pvcs(self, namespace: str) -> list[dict]:
        return self._in(self.pvcs, namespace)

    def delete_pvc(self, namespace: str, name: str) -> None:
        self.pvcs = [p for p in self.pvcs if (p["metadata"].get("namespace", "vllm"), p["metadata"]["name"])
                     != (namespace, name)]

    def delete_and_wait(self, namespace: str, kind: str, name: str) -> bool:
        kept = [d for d in self.deployments if (kind, d["metadata"]["name"]) != ("Deployment", name)]
        deleted, self.deployments = len(kept) != len(self.deployments), kept
        return deleted

    def secret_names(self, namespace: str) -> set[str]:
        return set()

    def node_labels(self) -> list[dict[str, str]]:
        return list(self.node_label_sets)

    def leftovers(self, namespace: str) -> list[str]:
        return [f"{kind}/{o['metadata']['name']}" for kind, items in
                (("Deployment", self.deployments), ("Service", self.services), ("PersistentVolumeClaim", self.pvcs))
                for o in self._in(items, namespace)] + [f"ConfigMap/{release}-vllmctl-rollouts"
                                                        for ns, release in self.rollouts if ns == namespace]

    def read_rollouts(self, namespace: str, release: str) -> dict[str, str]:
        return dict(self.rollouts.get((namespace, release), {}))

    def write_rollouts(self, namespace: str, release: str, records: dict[str, str]) -> None:
        self.rollouts[(namespace, release)] = dict(records)

    def delete_rollouts(self, namespace: str, release: str) -> bool:
        return self.rollouts.pop((namespace, release), None) is not None

    def stream_logs(self, namespace: str, pod: str, container: str | None, *, follow: bool,
                    tail: int | None) -> Iterator[str]:
        lines = self.logs[pod]
        yield from (lines[-tail:] if tail else lines)
