"""Day-two flows: status, endpoints, logs, port-forward, namespaces, prerequisites, the helm repo entry."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from vllmctl.core.lora_status import AdapterState
from vllmctl.core.rollout import pod_state, selects
from vllmctl.core.settings import Settings
from vllmctl.errors import NotInstalled, OperationFailed
from vllmctl.workflows.connection import endpoint_of, router_deployment
from vllmctl.workflows.ports import KubeObjects

HELM_REPO_NAME = "vllm"  # the seed's repository entry name
ENGINE_CONTAINER = "vllm"


def connect(settings: Settings) -> KubeObjects:
    """The real cluster of the settings' context (checked reachable)."""
    from vllmctl.adapters.kube import Kube
    from vllmctl.adapters.kube_client import connect as kube_connect

    return Kube(kube_connect(settings.kube_context))


def _age(created: str, now: dt.datetime | None = None) -> str:
    if not created:
        return "-"
    now = now or dt.datetime.now(dt.UTC)
    seconds = int((now - dt.datetime.fromisoformat(created.replace("Z", "+00:00"))).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{max(seconds, 0)}s"


@dataclass
class Workload:
    model: str  # models.yaml name, or "router"
    deployment: dict  # a multi-node model's: its RayCluster's metadata and a selector of its pods


def workloads(kube: KubeObjects, settings: Settings) -> list[Workload]:
    """The release's engine Deployments (by their `model` label) and its router."""
    out = []
    for d in kube.list_deployments(settings.namespace):
        labels = d["metadata"].get("labels") or {}
        if labels.get("helm-release-name") != settings.release and d["metadata"]["name"] != router_deployment(
                settings.release):
            continue
        if d["metadata"]["name"] == router_deployment(settings.release):
            out.append(Workload("router", d))
        elif labels.get("model"):
            out.append(Workload(labels["model"], d))
    for rc in kube.list_ray_clusters(settings.namespace):  # multi-node models: their pods carry ray.io/cluster
        labels = rc["metadata"].get("labels") or {}
        if labels.get("helm-release-name") == settings.release and labels.get("model"):
            selector = {"matchLabels": {"ray.io/cluster": rc["metadata"]["name"]}}
            out.append(Workload(labels["model"], {"metadata": rc["metadata"], "spec": {"selector": selector}}))
    return sorted(out, key=lambda w: (w.model == "router", w.model))


def deployed_models(kube: KubeObjects, settings: Settings) -> list[str]:
    return [w.model for w in workloads(kube, settings) if w.model != "router"]


def status(settings: Settings, kube: KubeObjects | None = None,
           adapters: list[AdapterState] | None = None) -> list[dict]:
    """A row per pod of each model and the router (a model without pods: one row saying why)."""
    kube = kube or connect(settings)
    loads = workloads(kube, settings)
    if not loads:
        raise NotInstalled(f"nothing of release {settings.release!r} runs in namespace {settings.namespace!r} "
                           f"on {kube.describe()}.", hint="Install it with `vllmctl install`.")
    pods = kube.list_pods(settings.namespace)
    scaling = autoscaling_of(kube, settings)
    loaded = _loaded_adapters(lora_adapters(kube, settings) if adapters is None else adapters)
    rows = []
    for w in loads:
        selector = (w.deployment.get("spec") or {}).get("selector") or {}
        mine = [pod_state(p) for p in pods if selects(selector, p["metadata"].get("labels") or {})]
        if not mine:
            rows.append({"model": w.model, "pod": "-", "ready": False,
                         "status": "scaled to zero" if w.model in scaling else "no pods", "restarts": 0,
                         "age": "-", "node": "-", "gpus": 0, "problem": "", "replicas": scaling.get(w.model)})
        for s in mine:
            rows.append({
                "model": w.model, "pod": s.name, "ready": s.ready,
                "status": "Terminating" if s.terminating else s.phase, "restarts": s.restarts,
                "age": _age(s.created), "node": s.node or "-", "gpus": s.gpus,
                "problem": s.problem.describe() if s.problem else "", "replicas": scaling.get(w.model),
                **({"adapters": {name: s.name in pods_of for name, pods_of in loaded[w.model].items()}}
                   if w.model in loaded else {}),
            })
    return rows


def lora_adapters(kube: KubeObjects, settings: Settings) -> list[AdapterState]:
    """The release's LoraAdapters as the chart's LoRA controller last reported them."""
    from vllmctl.core.lora_status import state_of

    return sorted((state_of(o) for o in kube.list_lora_adapters(settings.namespace)
                   if (o["metadata"].get("labels") or {}).get("helm-release-name") == settings.release),
                  key=lambda a: (a.model, a.name))


def _loaded_adapters(adapters: list[AdapterState]) -> dict[str, dict[str, tuple[str, ...]]]:
    """model -> adapter -> the pods it is loaded in."""
    out: dict[str, dict[str, tuple[str, ...]]] = {}
    for a in adapters:
        out.setdefault(a.model, {})[a.name] = a.loaded_in
    return out


def adapter_lines(adapters: list[AdapterState], rows: list[dict]) -> list[tuple[bool, str]]:
    """(loaded where wanted, one line) per adapter, against the model's pods in the status rows."""
    pods: dict[str, int] = {}
    for row in rows:
        if row["pod"] != "-":
            pods[row["model"]] = pods.get(row["model"], 0) + 1
    return [(a.complete(pods.get(a.model, 0)),
             f"adapter {a.name} (model {a.model}): {a.describe(pods.get(a.model, 0))}") for a in adapters]


def autoscaling_of(kube: KubeObjects, settings: Settings) -> dict[str, dict]:
    """model -> {current, min, max} of the release's KEDA ScaledObjects."""
    out = {}
    for so in kube.list_scaled_objects(settings.namespace):
        labels = so["metadata"].get("labels") or {}
        if labels.get("helm-release-name") != settings.release or not labels.get("model"):
            continue
        spec, status = so.get("spec") or {}, so.get("status") or {}
        deployment = next((w.deployment for w in workloads(kube, settings) if w.model == labels["model"]), {})
        out[labels["model"]] = {"current": (deployment.get("spec") or {}).get("replicas", 0),
                                "min": spec.get("minReplicaCount", 0), "max": spec.get("maxReplicaCount"),
                                "active": any(c.get("type") == "Active" and c.get("status") == "True"
                                              for c in status.get("conditions") or [])}
    return out


def endpoints(settings: Settings, kube: KubeObjects | None = None) -> dict:
    kube = kube or connect(settings)
    services = kube.list_services(settings.namespace)
    router_name = f"{settings.release}-router-service"
    router = next((s for s in services if s["metadata"]["name"] == router_name), None)
    engines = []
    for s in services:
        # The chart labels an engine Service only with its chart's generic labels (environment: test,
        # ...); which release and model it serves is in its selector, in every chart version.
        selector = (s.get("spec") or {}).get("selector") or {}
        if selector.get("helm-release-name") == settings.release and selector.get("model"):
            port = ((s.get("spec") or {}).get("ports") or [{}])[0].get("port", 80)
            base = f"http://{s['metadata']['name']}.{settings.namespace}.svc.cluster.local:{port}"
            engines.append({"model": selector["model"], "service": s["metadata"]["name"], "url": f"{base}/v1",
                            "metrics": f"{base}/metrics"})
    result: dict[str, Any] = {"router": None, "engines": sorted(engines, key=lambda e: e["model"]),
                              "models": deployed_models(kube, settings)}
    if router is not None:
        spec = router.get("spec") or {}
        port = (spec.get("ports") or [{}])[0]
        ingress = ((router.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
        external = [f"http://{i.get('ip') or i.get('hostname')}:{port.get('port')}/v1" for i in ingress]
        if spec.get("type") == "NodePort" and port.get("nodePort"):
            external.append(f"<node-ip>:{port['nodePort']}")
        external += ingress_urls(kube, settings)
        result["router"] = {
            "service": router_name, "type": spec.get("type", "ClusterIP"),
            "url": f"{endpoint_of(settings)}/v1" if port.get("port") == 80
            else f"{endpoint_of(settings)}:{port.get('port')}/v1",
            "external": external,
            "metrics": f"{endpoint_of(settings)}:{port.get('port')}/metrics",
            "port_forward": "vllmctl port-forward [PORT]  ->  http://127.0.0.1:PORT/v1",
        }
    if result["router"] is None and not engines:
        raise NotInstalled(f"no Services of release {settings.release!r} in namespace {settings.namespace!r}.",
                           hint="Install it with `vllmctl install`.")
    return result


def ingress_urls(kube: KubeObjects, settings: Settings) -> list[str]:
    """The router's Ingress hosts (https where TLS covers the host), and the Gateway route's host."""
    from vllmctl.core.exposure import external_url

    urls = []
    for ing in kube.list_ingresses(settings.namespace):
        if ing["metadata"]["name"] != f"{settings.release}-ingress-router":
            continue
        spec = ing.get("spec") or {}
        tls_hosts = {h for t in spec.get("tls") or [] for h in t.get("hosts") or []}
        urls += [f"{'https' if r['host'] in tls_hosts else 'http'}://{r['host']}/v1"
                 for r in spec.get("rules") or [] if r.get("host")]
    route = external_url(settings) if settings.router_expose == "gateway" else None
    return urls + ([route] if route else [])


def model_pods(kube: KubeObjects, settings: Settings, model: str) -> list[str]:
    loads = {w.model: w for w in workloads(kube, settings)}
    if model not in loads:
        names = ", ".join(m for m in loads if m != "router") or "none"
        raise NotInstalled(f"no model {model!r} of release {settings.release!r} deployed in namespace "
                           f"{settings.namespace!r} (deployed: {names}).")
    selector = (loads[model].deployment.get("spec") or {}).get("selector") or {}
    pods = [p for p in kube.list_pods(settings.namespace)
            if selects(selector, p["metadata"].get("labels") or {}) and (p.get("spec") or {}).get("nodeName")]
    if not pods:
        raise OperationFailed(f"model {model!r} has no pod on a node yet: no logs to show.",
                              hint="See `vllmctl status` for why.")
    return sorted(p["metadata"]["name"] for p in pods)


def logs(kube: KubeObjects, settings: Settings, model: str, *, follow: bool, tail: int | None) -> Iterator[str]:
    """Log lines of the model's pods (each prefixed with the pod name when there are several).
    With --follow and several pods, the streams are interleaved as lines arrive."""
    pods = model_pods(kube, settings, model)
    container = None if model == "router" else ENGINE_CONTAINER
    if len(pods) == 1:
        yield from kube.stream_logs(settings.namespace, pods[0], container, follow=follow, tail=tail)
        return
    if not follow:
        for pod in pods:
            for line in kube.stream_logs(settings.namespace, pod, container, follow=False, tail=tail):
                yield f"[{pod}] {line}"
        return
    yield from _interleave(kube, settings, pods, container, tail)


def _interleave(kube: KubeObjects, settings: Settings, pods: list[str], container: str | None,
                tail: int | None) -> Iterator[str]:
    import queue
    import threading

    lines: queue.Queue = queue.Queue()
    done = object()

    def pump(pod: str) -> None:
        try:
            for line in kube.stream_logs(settings.namespace, pod, container, follow=True, tail=tail):
                lines.put(f"[{pod}] {line}")
        except Exception as e:  # noqa: BLE001 - one pod's stream ending must not end the others
            lines.put(f"[{pod}] (log stream ended: {e})")
        finally:
            lines.put(done)

    for pod in pods:
        threading.Thread(target=pump, args=(pod,), daemon=True).start()
    remaining = len(pods)
    while remaining:
        item = lines.get()
        if item is done:
            remaining -= 1
        else:
            yield item


# ---------------------------------------------------------------------- namespaces
def create_namespace(settings: Settings, kube: KubeObjects | None = None) -> bool:
    return (kube or connect(settings)).ensure_namespace(settings.namespace, settings.pod_security)


def namespace_claims(kube: KubeObjects, settings: Settings) -> list[str]:
    if kube.read_namespace(settings.namespace) is None:
        return []
    return [p["metadata"]["name"] for p in kube.list_pvcs(settings.namespace)]


def delete_namespace(kube: KubeObjects, settings: Settings) -> bool:
    return kube.delete_namespace(settings.namespace)


# ---------------------------------------------------------------------- prerequisites
@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    checked: bool = True  # False: reported, but nothing was asked (no tick for it)
    exit_code: int = 0  # of the failure, so an unreachable server alone exits 3


def _failed(name: str, error: Exception) -> Check:
    from vllmctl.errors import FAILED

    return Check(name, False, str(error), exit_code=getattr(error, "exit_code", FAILED))


def check_prerequisites(settings: Settings) -> list[Check]:
    """Everything install needs, each reported (no stop at the first problem); a check says only
    what it asked: a chart repository it could not reach or a Vault it did not probe gets no tick."""
    from vllmctl.adapters.helm import Helm
    from vllmctl.adapters.kube_client import connect, server_version
    from vllmctl.errors import VllmctlError
    from vllmctl.workflows import models as models_wf

    checks = [_chart_check(settings)]
    settings = _settings_for_chart(settings)
    try:
        loaded = models_wf.load(settings)
        enabled = [m for m in loaded.models if m.enabled]
        checks.append(Check("models file", True, f"{settings.models_file}: {len(enabled)} enabled models"))
    except VllmctlError as e:
        checks.append(_failed("models file", e))
    try:
        helm = Helm(None)
        checks.append(Check("helm", True, f"{helm.run(helm.version())} ({helm.executable})"))
    except VllmctlError as e:
        checks.append(_failed("helm", e))
    try:
        cluster = connect(settings.kube_context, check=False)
        checks.append(Check("cluster", True, f"Kubernetes {server_version(cluster)} at {cluster.describe()}"))
    except VllmctlError as e:
        checks.append(_failed("cluster", e))
    checks.append(_vault_check(settings))
    return checks


def _settings_for_chart(settings: Settings) -> Settings:
    from vllmctl.adapters import chart_source
    from vllmctl.errors import VllmctlError

    try:
        return chart_source.settings_for(settings, chart_source.resolve(settings))
    except VllmctlError:
        return settings  # the chart check reports it


def _chart_check(settings: Settings) -> Check:
    from vllmctl.adapters import chart_source
    from vllmctl.errors import VllmctlError

    try:
        chart = chart_source.resolve(settings)
        if chart.local:
            return Check("chart", True, chart.describe())
        if not chart.repo:
            return Check("chart", True, f"{chart.describe()}: not fetched (helm pulls oci:// charts at install)",
                         checked=False)
        chart_source.check_listed(chart)
        return Check("chart", True, f"{chart.describe()}: listed in the repository's index")
    except VllmctlError as e:
        return _failed("chart", e)


def _vault_check(settings: Settings) -> Check:
    from vllmctl.errors import VllmctlError

    if not settings.vault_addr:
        return Check("vault", True, "VAULT_ADDR not set: secrets go into plain Kubernetes Secrets", checked=False)
    from vllmctl.adapters import vault
    from vllmctl.core.secret_layout import HF_TOKEN

    token = vault.token_from_environment()
    try:
        client = vault.Vault(settings.vault_addr, token or "", settings.vault_mount)
        return Check("vault", True, client.probe(with_token=bool(token), path=HF_TOKEN.vault_path))
    except VllmctlError as e:
        return _failed("vault", e)


# ---------------------------------------------------------------------- helm repository entry
def add_helm_repo(settings: Settings) -> None:
    from vllmctl.adapters.helm import Helm

    helm = Helm(None)
    helm.run(helm.repo_add(HELM_REPO_NAME, settings.chart_repo))


def remove_helm_repo() -> bool:
    from vllmctl.adapters.helm import Helm

    helm = Helm(None)
    return helm.run(helm.repo_remove(HELM_REPO_NAME))
