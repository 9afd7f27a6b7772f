"""One typed settings object, from the environment (and .env.local), then flags.

Names and defaults of the buun-stack module's variables are kept so existing `.env.local` files
keep working. Deliberate changes: VLLM_MODEL_TAG defaults to a pinned vLLM release instead of
`latest`, because a floating tag (pulled with imagePullPolicy Always) breaks pods the day vLLM
drops a flag, and because engine arguments can only be checked against a known release; the router
image is pinned the same way (the chart's default is `lmcache/lmstack-router:latest`, pulled
Always); VLLM_ROUTER_LIMIT_MEMORY defaults to the chart's own router limit (see ROUTER_LIMIT_MEMORY);
VLLM_CHART_VERSION defaults to the newest chart vllmctl knows (0.1.8 stays supported).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from vllmctl.core import kube_names
from vllmctl.core.chart import NEWEST as NEWEST_CHART
from vllmctl.core.problems import shown
from vllmctl.errors import InvalidInput

PINNED_VLLM_TAG = "v0.32.0"
# The seed's 768Mi is below the chart's own default router limit from 0.1.10 on (1000Mi), where the
# prefix-aware router has been reported to run out of memory: vllmctl starts at the chart's value.
ROUTER_LIMIT_MEMORY = "1000Mi"
ROUTER_IMAGE = "lmcache/lmstack-router"
# Since February 2026 (production-stack #801/#823) every chart release also publishes the router it
# was released with as lmcache/lmstack-router:v<chart version>; v0.1.12 is chart 0.1.12's. Its
# parser accepts every router argument that charts 0.1.8 .. 0.1.12 render, so it serves them all.
PINNED_ROUTER_TAG = "v0.1.12"
FLOATING_TAGS = ("latest", "nightly", "")
CHART_REPO = "https://vllm-project.github.io/production-stack"

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DURATION = re.compile(r"^(\d+(\.\d+)?(h|m|s|ms))+$")
_HEADER = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")  # an HTTP header name (RFC 9110 token)
_QUANTITY = re.compile(r"^\d+(\.\d+)?(m|k|Ki|Mi|Gi|Ti|M|G|T)?$")


def _setting(env: str, default, help: str, kind: str = "str", choices: tuple[str, ...] = ()):
    return field(default=default, metadata={"env": env, "help": help, "kind": kind, "choices": choices})


@dataclass(frozen=True)
class Settings:
    namespace: str = _setting("VLLM_NAMESPACE", "vllm", "Kubernetes namespace of the stack", "dns")
    release: str = _setting("VLLM_RELEASE", "vllm", "Helm release name", "release")
    models_file: str = _setting("VLLM_MODELS_FILE", "models.yaml", "the models file")
    values_file: str = _setting(
        "VLLM_VALUES_FILE", "",
        "chart values overlay files, comma-separated, applied in order ('' = values.override.yaml beside the "
        "models file, when it exists)",
    )
    chart_version: str = _setting(
        "VLLM_CHART_VERSION", NEWEST_CHART, "vllm-stack chart version (0.1.8 .. 0.1.12)", "version"
    )
    chart_repo: str = _setting("VLLM_CHART_REPO", CHART_REPO, "Helm repository of the vllm-stack chart")
    chart: str = _setting(
        "VLLM_CHART", "", "chart to use instead of repo+version: a directory, a .tgz or an oci:// reference"
    )
    argocd_namespace: str = _setting(
        "VLLM_ARGOCD_NAMESPACE", "argocd",
        "Argo CD's namespace, home of the Application `render --format argocd` writes", "dns",
    )
    argocd_project: str = _setting("VLLM_ARGOCD_PROJECT", "default", "Argo CD project of the Application", "dns")
    helm_timeout: str = _setting("VLLM_HELM_TIMEOUT", "30m", "how long helm waits for the rollout", "duration")
    model_image: str = _setting("VLLM_MODEL_IMAGE", "vllm/vllm-openai", "engine image repository", "image")
    model_tag: str = _setting("VLLM_MODEL_TAG", PINNED_VLLM_TAG, "engine image tag (a pinned vLLM release)", "tag")
    image_pull_policy: str = _setting(
        "VLLM_IMAGE_PULL_POLICY", "IfNotPresent", "image pull policy of the engines and the router", "choice",
        ("Always", "IfNotPresent", "Never"),
    )
    storage_class: str = _setting(
        "VLLM_STORAGE_CLASS", "", "StorageClass of the model caches ('' = default)", "name?"
    )
    shared_cache_size: str = _setting(
        "VLLM_SHARED_CACHE_SIZE", "", "one ReadWriteMany model cache for all models, of this size, instead of a "
        "volume each ('' = a volume per model; chart 0.1.11+)", "quantity")
    shared_cache_storage_class: str = _setting(
        "VLLM_SHARED_CACHE_STORAGE_CLASS", "", "StorageClass of the shared cache, one that provisions ReadWriteMany "
        "('' = VLLM_STORAGE_CLASS)", "name?")
    shared_cache_nfs: str = _setting(
        "VLLM_SHARED_CACHE_NFS", "", "NFS export SERVER:/PATH the release makes the shared cache's volume from")
    shared_cache_host_path: str = _setting(
        "VLLM_SHARED_CACHE_HOST_PATH", "", "node directory the release makes the shared cache's volume from "
        "(single-node clusters)")
    runtime_class: str = _setting("VLLM_RUNTIME_CLASS", "nvidia", "RuntimeClass of engine pods ('' = none)", "name?")
    update_strategy: str = _setting(
        "VLLM_UPDATE_STRATEGY", "RollingUpdate",
        "engine update strategy; Recreate needs no spare GPUs during an upgrade", "choice",
        ("RollingUpdate", "Recreate"),
    )
    stuck_after: str = _setting(
        "VLLM_STUCK_AFTER", "2m",
        "stop waiting when a pod stays unschedulable, cannot pull its image or crash-loops this long", "duration",
    )
    router_enabled: bool = _setting("VLLM_ROUTER_ENABLED", True, "deploy the router", "bool")
    router_replicas: int = _setting("VLLM_ROUTER_REPLICAS", 1, "router replicas", "int")
    router_request_cpu: str = _setting("VLLM_ROUTER_REQUEST_CPU", "100m", "router CPU request", "quantity")
    router_request_memory: str = _setting(
        "VLLM_ROUTER_REQUEST_MEMORY", "256Mi", "router memory request", "quantity"
    )
    router_limit_memory: str = _setting(
        "VLLM_ROUTER_LIMIT_MEMORY", ROUTER_LIMIT_MEMORY, "router memory limit (below the chart's default: a warning)",
        "quantity",
    )
    router_image: str = _setting("VLLM_ROUTER_IMAGE", ROUTER_IMAGE, "router image repository", "image?")
    router_tag: str = _setting(
        "VLLM_ROUTER_TAG", PINNED_ROUTER_TAG, "router image tag (a pinned router release)", "tag?"
    )
    routing_logic: str = _setting(
        "VLLM_ROUTING_LOGIC", "roundrobin", "router routing logic", "choice",
        ("roundrobin", "session", "kvaware", "prefixaware", "disaggregated_prefill",
         "disaggregated_prefill_orchestrated"),
    )
    router_session_key: str = _setting(
        "VLLM_ROUTER_SESSION_KEY", "",
        "request header that identifies a session; required by VLLM_ROUTING_LOGIC=session (kvaware falls back "
        "to it)", "header",
    )
    router_prefix_min_match_length: int = _setting(
        "VLLM_ROUTER_PREFIX_MIN_MATCH_LENGTH", 0,
        "prefixaware: shortest prefix match (characters) that keeps a request on its engine (0 = off; chart 0.1.12+)",
        "int",
    )
    pod_security: str = _setting(
        "VLLM_POD_SECURITY", "baseline",
        "Pod Security profile the namespace enforces; privileged only for disaggregated prefill (hostIPC, hostPID)",
        "choice", ("baseline", "privileged"),
    )
    router_expose: str = _setting(
        "VLLM_ROUTER_EXPOSE", "none", "how the router is reached from outside the cluster", "choice",
        ("none", "nodeport", "loadbalancer", "ingress", "gateway"),
    )
    router_host: str = _setting("VLLM_ROUTER_HOST", "", "external host name of the router (ingress, gateway)", "host")
    ingress_class: str = _setting("VLLM_INGRESS_CLASS", "", "IngressClass of the router's Ingress ('' = default)")
    router_tls_secret: str = _setting(
        "VLLM_ROUTER_TLS_SECRET", "", "TLS Secret of the router's Ingress ('' = plain HTTP)", "host")
    gateway: str = _setting("VLLM_GATEWAY", "", "Gateway (NAME or NAMESPACE/NAME) the router's HTTPRoute attaches to")
    router_node_port: int = _setting("VLLM_ROUTER_NODE_PORT", 0, "fixed NodePort of the router (0 = any)", "int")
    router_image_pull_secrets: str = _setting(
        "VLLM_ROUTER_IMAGE_PULL_SECRETS", "", "comma-separated Secrets to pull the router image with")
    monitoring: bool = _setting(
        "VLLM_MONITORING", False, "engine and router ServiceMonitors and Grafana dashboards (chart 0.1.11+)", "bool")
    service_monitor_labels: str = _setting(
        "VLLM_SERVICE_MONITOR_LABELS", "", "labels your Prometheus selects ServiceMonitors by (k=v,k2=v2)")
    prometheus_url: str = _setting(
        "VLLM_PROMETHEUS_URL", "http://prometheus-operated.monitoring.svc:9090",
        "Prometheus the autoscaling triggers query")
    api_key_enabled: bool = _setting(
        "VLLM_API_KEY_ENABLED", True, "protect the endpoint with the API key Secret", "bool"
    )
    vault_addr: str = _setting("VAULT_ADDR", "", "Vault (or OpenBao) address")
    vault_mount: str = _setting("VLLM_VAULT_MOUNT", "secret", "KV v2 mount holding vllm/huggingface, vllm/api-key")
    secret_store: str = _setting(
        "VLLM_SECRET_STORE", "vault-secret-store", "ClusterSecretStore the ExternalSecrets use", "name"
    )
    secret_timeout: str = _setting(
        "VLLM_SECRET_TIMEOUT", "60s", "how long to wait for an ExternalSecret to become Ready", "duration"
    )
    external_secrets_namespace: str = _setting(
        "EXTERNAL_SECRETS_NAMESPACE", "external-secrets", "namespace of the External Secrets Operator", "dns"
    )
    vault_namespace: str = _setting("K8S_VAULT_NAMESPACE", "vault", "namespace of an in-cluster Vault", "dns")
    kube_context: str = _setting("VLLM_KUBE_CONTEXT", "", "kubeconfig context ('' = current)")
    url: str = _setting("VLLM_URL", "", "OpenAI-compatible endpoint ('' = port-forward to the router)")
    gpu_memory: str = _setting("VLLM_GPU_MEMORY", "", "memory of one GPU, when nodes do not label it", "quantity")
    download_bandwidth: str = _setting(
        "VLLM_DOWNLOAD_BANDWIDTH", "100M", "bytes per second a pod downloads from the Hub (start-up estimates)",
        "quantity",
    )
    model_facts_cache: str = _setting(
        "VLLM_MODEL_FACTS_CACHE", "", "model facts cache directory ('' = ~/.cache/vllmctl/model-facts)"
    )
    offline: bool = _setting("VLLM_OFFLINE", False, "never ask the Hugging Face Hub; cached model facts only", "bool")

    @property
    def models_path(self) -> Path:
        return Path(self.models_file)

    @property
    def engine_tag_floats(self) -> bool:
        return self.model_tag in FLOATING_TAGS

    @property
    def router_tag_floats(self) -> bool:
        return self.router_tag in FLOATING_TAGS


def setting_fields() -> list[dataclasses.Field]:
    return list(dataclasses.fields(Settings))


def env_name(attr: str) -> str:
    return Settings.__dataclass_fields__[attr].metadata["env"]


def _convert(f: dataclasses.Field, raw, source: str):
    kind = f.metadata["kind"]
    where = f"{source} ({f.metadata['env']})" if source != f.metadata["env"] else source
    if kind == "bool":
        if isinstance(raw, bool):
            return raw
        value = str(raw).strip().lower()
        if value in _TRUE:
            return True
        if value in _FALSE:
            return False
        raise InvalidInput(f"{where} must be true or false, got {shown(raw)}.")
    if kind == "int":
        try:
            number = int(str(raw).strip())
        except ValueError:
            raise InvalidInput(f"{where} must be a whole number, got {shown(raw)}.") from None
        if number < 0:
            raise InvalidInput(f"{where} must not be negative, got {shown(raw)}.")
        if number > kube_names.INT32_MAX:
            raise InvalidInput(
                f"{where} must be at most {kube_names.INT32_MAX} (what Kubernetes stores), got {shown(raw)}."
            )
        return number
    value = str(raw).strip()
    # Helm caps release names at 53 characters; namespaces and the like are DNS labels of 63.
    limit = 53 if kind == "release" else 63
    if kind in ("dns", "release") and (not _DNS_LABEL.match(value) or len(value) > limit):
        raise InvalidInput(
            f"{where} must be a DNS-1123 label of at most {limit} characters "
            f"(lowercase letters, digits, '-'), got {shown(raw)}."
        )
    if kind == "duration" and not _DURATION.match(value):
        raise InvalidInput(f"{where} must be a duration such as 30m, 1h or 90s, got {shown(raw)}.")
    if kind == "quantity" and value and not _QUANTITY.match(value):
        raise InvalidInput(f"{where} must be a Kubernetes quantity such as 100m, 256Mi or 80Gi, got {shown(raw)}.")
    if kind == "host" and value and kube_names.dns_subdomain(value):
        raise InvalidInput(f"{where} must be a DNS name such as llm.example.com, got {shown(raw)}.")
    if kind == "header" and value and not _HEADER.match(value):
        raise InvalidInput(f"{where} must be an HTTP header name such as x-user-id, got {shown(raw)}.")
    checks = {"name": kube_names.dns_subdomain, "image": kube_names.image_repository, "tag": kube_names.image_tag}
    check = checks.get(kind.rstrip("?"))
    if check and (value or not kind.endswith("?")):
        reason = check(value)
        if reason:
            empty = " (it must not be empty)" if not value else ""
            raise InvalidInput(f"{where}{empty}: {reason}.")
    if kind == "version" and not re.match(r"^\d+\.\d+\.\d+$", value):
        raise InvalidInput(f"{where} must be a chart version such as 0.1.8, got {shown(raw)}.")
    if kind == "choice" and value not in f.metadata["choices"]:
        raise InvalidInput(f"{where} must be one of {', '.join(f.metadata['choices'])}; got {shown(raw)}.")
    return value


# Settings whose command-line flag is not the field's name, so an error names the flag the user typed.
_FLAGS = {"helm_timeout": "--timeout", "kube_context": "--context", "api_key_enabled": "--api-key"}


def load_settings(environ: Mapping[str, str], overrides: Mapping[str, object] | None = None) -> Settings:
    """Defaults, then the environment, then flags (overrides whose value is not None)."""
    values = {}
    overrides = overrides or {}
    for f in setting_fields():
        env = f.metadata["env"]
        if overrides.get(f.name) is not None:
            flag = _FLAGS.get(f.name, "--" + f.name.replace("_", "-"))
            values[f.name] = _convert(f, overrides[f.name], flag)
        elif env in environ:
            values[f.name] = _convert(f, environ[env], env)
    settings = Settings(**values)
    _check_router_memory(settings)
    return settings


def _check_router_memory(s: Settings) -> None:
    from vllmctl.core.quantity import parse_quantity

    if s.router_limit_memory and parse_quantity(s.router_request_memory) > parse_quantity(s.router_limit_memory):
        raise InvalidInput(
            f"VLLM_ROUTER_REQUEST_MEMORY {s.router_request_memory} is above VLLM_ROUTER_LIMIT_MEMORY "
            f"{s.router_limit_memory}: Kubernetes refuses a request above its limit; "
            "raise the limit or lower the request."
        )
