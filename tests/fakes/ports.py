"""Small honest in-memory implementations of workflows.ports, for in-process workflow tests.

They keep the state the real servers keep (objects with uids and generations, KV versions) and
follow the same rules the workflows rely on (an ExternalSecret syncs its Secret from Vault; an
update keeps the object), so a test asserts on that state. The real adapters are tested against the
real servers in tests/integration; these fakes stand for them only where the logic is the subject.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import itertools
from collections.abc import Iterator
from dataclasses import dataclass

import yaml

from vllmctl.core.preflight import ClusterFacts
from vllmctl.core.release import ReleaseInfo
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
                 ingresses=(), scaled_objects=(), ray_clusters=(), lora_adapters=(),
                 secrets: FakeSecretObjects | None = None) -> None:
        """`secrets`: the same cluster's Secrets (one set of namespaces; deleting a namespace deletes
        its Secrets and ExternalSecrets, as the API server does)."""
        self.secrets = secrets
        self.deployments, self.pods, self.services = list(deployments), list(pods), list(services)
        self.ingresses, self.scaled_objects = list(ingresses), list(scaled_objects)
        self.ray_clusters, self.lora_adapters = list(ray_clusters), list(lora_adapters)
        self.events, self.pvcs, self.namespaces = list(events), list(pvcs), set(namespaces)
        if secrets is not None:
            self.namespaces |= secrets.namespaces
            secrets.namespaces = self.namespaces
        self.logs = logs or {}
        self.facts = facts or ClusterFacts()
        self.facts_resources: frozenset[str] | None = None  # the free counts the last cluster_facts was asked for
        self.rollouts: dict[tuple[str, str], dict[str, str]] = {}  # (namespace, release) -> records
        self.node_label_sets: list[dict[str, str]] = []

    def describe(self) -> str:
        return "https://fake-cluster (context 'test')"

    def cluster_facts(self, release: str, release_namespace: str, group_versions: tuple[str, ...] = (),
                      owned: tuple[str, ...] = (), resources: frozenset[str] | None = None) -> ClusterFacts:
        self.facts_resources = resources
        return self.facts

    def read_namespace(self, namespace: str) -> dict | None:
        return {"metadata": {"name": namespace}} if namespace in self.namespaces else None

    def ensure_namespace(self, namespace: str, pod_security: str = "baseline") -> bool:
        created = namespace not in self.namespaces
        self.namespaces.add(namespace)
        return created

    def delete_namespace(self, namespace: str) -> bool:
        if namespace not in self.namespaces:
            return False
        self.namespaces.discard(namespace)
        if self.secrets is not None:
            for objects in (self.secrets.secrets, self.secrets.external_secrets):
                for key in [k for k in objects if k[0] == namespace]:
                    del objects[key]
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

    def list_lora_adapters(self, namespace: str) -> list[dict]:
        return self._in(self.lora_adapters, namespace)

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
        return {name for ns, name in (self.secrets.secrets if self.secrets else {}) if ns == namespace}

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


@dataclass
class FakeRevision:
    values: dict
    manifest: str
    status: str  # deployed, superseded, failed, pending-install, pending-upgrade, pending-rollback
    chart: str  # name-version, e.g. vllm-stack-0.1.8
    description: str = ""


class FakeHelm:
    """Helm's releases in one cluster: {(namespace, release): [revision 1, revision 2, ...]}, each
    revision with the values it was made from, its manifest, status and chart label.

    `template` renders a small manifest from the values: for each servingEngineSpec.modelSpec entry
    (vllmctl renders only the enabled models) the engine Deployment `<release>-<name>-deployment-vllm`
    labelled model=<name>, with its replicas, image repository:tag, `vllm serve <modelURL>` plus
    vllmConfig.extraArgs, CPU, memory and GPU requests (GPU limit = request), and HF_TOKEN /
    VLLM_API_KEY from the Secrets the values name; and the router Deployment
    `<release>-deployment-router` with its image, routing logic, resources and API key Secret. Every
    other value key is ignored, as a chart ignores keys it does not read. It does not model the chart's
    other objects (Services, PVCs, ConfigMaps, RBAC, PDB), its defaults (`default_values` is empty,
    `values(computed=True)` the values alone), its schema, hooks, the post-renderer, --history-max,
    --wait, or any object reaching the cluster: FakeKube's Deployments are what a rollout watch sees.

    Failures: `fail[method] = message` makes that method raise helm's OperationFailed; a failed
    upgrade_install records a `failed` revision first, as helm does when the API server refuses the
    objects. `writes` lists every call that changed a release.
    """

    def __init__(self) -> None:
        self.releases: dict[tuple[str, str], list[FakeRevision]] = {}
        self.fail: dict[str, str] = {}
        self.writes: list[tuple] = []
        self.templated = 0  # how many times `template` rendered
        self.post_rendered: list[bool] = []  # each upgrade_install: with the post-renderer or not

    @staticmethod
    def run(coro):
        return asyncio.run(coro)

    def _check(self, method: str, doing: str) -> None:
        if method in self.fail:
            raise OperationFailed(f"helm could not {doing}: {self.fail[method]}")

    def _revisions(self, release: str, namespace: str) -> list[FakeRevision]:
        found = self.releases.get((namespace, release))
        if not found:
            raise OperationFailed(f"helm could not read release {release!r}: release: not found")
        return found

    def seed(self, release: str, namespace: str, values: dict, chart: str, *, status: str = "deployed",
             manifest: str | None = None) -> None:
        """A revision some earlier helm command made (the manifest: `template` of its values)."""
        self.releases.setdefault((namespace, release), []).append(FakeRevision(
            copy.deepcopy(values), manifest if manifest is not None else self._render(release, values), status, chart))

    # ------------------------------------------------------------------ reading a release
    async def latest(self, release: str, namespace: str) -> ReleaseInfo | None:
        self._check("latest", f"read release {release!r} in namespace {namespace!r}")
        found = self.releases.get((namespace, release))
        if not found:
            return None
        last = found[-1]
        return ReleaseInfo(len(found), last.status, last.chart, "2026-01-01T00:00:00Z", last.description)

    async def history(self, release: str, namespace: str) -> list[dict]:
        self._check("history", "read the release history")
        return [{"revision": i, "status": r.status, "chart": r.chart, "updated": "2026-01-01T00:00:00Z",
                 "description": r.description}
                for i, r in enumerate(self.releases.get((namespace, release), []), 1)]

    async def values(self, release: str, namespace: str, *, computed: bool = False) -> dict:
        self._check("values", "read the deployed values")
        return copy.deepcopy(self._revisions(release, namespace)[-1].values)

    async def manifest(self, release: str, namespace: str) -> str:
        self._check("manifest", "read the deployed manifest")
        return self._revisions(release, namespace)[-1].manifest

    # ------------------------------------------------------------------ changing a release
    async def template(self, release: str, chart, values: dict, namespace: str, *, post_render: bool = True) -> str:
        self._check("template", f"render the chart {chart.describe()}")
        self.templated += 1
        return self._render(release, values)

    async def upgrade_install(self, release: str, chart, values: dict, namespace: str, *, timeout: str,
                              wait: bool = False, atomic: bool = False, description: str | None = None,
                              post_render: bool = True) -> dict:
        self.writes.append(("upgrade_install", namespace, release))
        self.post_rendered.append(post_render)
        revisions = self.releases.setdefault((namespace, release), [])
        revision = FakeRevision(copy.deepcopy(values), self._render(release, values), "deployed", chart.label,
                                description or ("Install complete" if not revisions else "Upgrade complete"))
        if "upgrade_install" in self.fail:
            revision.status = "failed"
            revisions.append(revision)
            self._check("upgrade_install", f"upgrade release {release!r}")
        for old in revisions:
            if old.status == "deployed":
                old.status = "superseded"
        revisions.append(revision)
        return {"name": release, "namespace": namespace, "version": len(revisions), "info": {"status": "deployed"}}

    async def rollback(self, release: str, namespace: str, revision: int | None, *, timeout: str = "5m",
                       wait: bool = False) -> None:
        self.writes.append(("rollback", namespace, release, revision))
        self._check("rollback", f"roll back release {release!r}")
        revisions = self._revisions(release, namespace)
        target = revisions[(revision or len(revisions) - 1) - 1]
        for old in revisions:
            if old.status == "deployed":
                old.status = "superseded"
        revisions.append(FakeRevision(copy.deepcopy(target.values), target.manifest, "deployed", target.chart,
                                      f"Rollback to {revisions.index(target) + 1}"))

    async def uninstall(self, release: str, namespace: str, *, timeout: str = "5m") -> None:
        self.writes.append(("uninstall", namespace, release))
        self._check("uninstall", f"uninstall release {release!r}")
        self._revisions(release, namespace)
        del self.releases[(namespace, release)]

    async def default_values(self, chart) -> str:
        self._check("default_values", f"read the defaults of the chart {chart.describe()}")
        return ""

    # ------------------------------------------------------------------ the chart, in brief
    @staticmethod
    def _render(release: str, values: dict) -> str:
        engine = values.get("servingEngineSpec") or {}
        docs = [_engine_deployment(release, spec, engine.get("vllmApiKey")) for spec in engine.get("modelSpec") or []]
        router = values.get("routerSpec") or {}
        if router.get("enableRouter", True):
            docs.append(_router_deployment(release, router))
        return "".join("---\n" + yaml.safe_dump(doc, sort_keys=False) for doc in docs)


def _secret_env(name: str, ref: dict | None) -> list[dict]:
    if not ref:
        return []
    return [{"name": name, "valueFrom": {"secretKeyRef": {"name": ref["secretName"], "key": ref["secretKey"]}}}]


def _engine_deployment(release: str, spec: dict, api_key: dict | None) -> dict:
    gpus = str(spec.get("requestGPU") or 0)
    labels = {"model": spec["name"], "helm-release-name": release}
    container = {
        "name": "vllm", "image": f"{spec.get('repository')}:{spec.get('tag')}",
        "command": ["vllm", "serve", spec.get("modelURL"), *((spec.get("vllmConfig") or {}).get("extraArgs") or [])],
        "env": _secret_env("HF_TOKEN", spec.get("hf_token")) + _secret_env("VLLM_API_KEY", api_key),
        "resources": {"requests": {"cpu": str(spec.get("requestCPU")), "memory": str(spec.get("requestMemory")),
                                   "nvidia.com/gpu": gpus}, "limits": {"nvidia.com/gpu": gpus}},
    }
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": f"{release}-{spec['name']}-deployment-vllm", "labels": labels},
            "spec": {"replicas": spec.get("replicaCount"), "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels}, "spec": {"containers": [container]}}}}


def _router_deployment(release: str, router: dict) -> dict:
    labels = {"environment": "router", "release": "router"}
    container = {"name": "router-container", "image": f"{router.get('repository')}:{router.get('tag')}",
                 "args": ["--routing-logic", str(router.get("routingLogic") or "roundrobin")],
                 "env": _secret_env("VLLM_API_KEY", router.get("vllmApiKey")),
                 "resources": router.get("resources") or {}}
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": f"{release}-deployment-router", "labels": labels},
            "spec": {"replicas": router.get("replicaCount"), "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels}, "spec": {"containers": [container]}}}}
