"""The chart check: what `helm template` of the pinned chart renders for these values, checked
against what each model needs before anything is applied.

Pure: the manifest text, the render request (models, settings, which models need the token), the
models.yaml document (for file:line), the chart's own default values and, when there is a cluster,
the names of its PersistentVolumeClaims, in; findings out. The rules read the manifests, not the
values, so they hold for whatever produced the values (a values overlay included).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from vllmctl.core import lora, routing
from vllmctl.core.engine_flags import PIPELINE, SECRET_FLAGS, TENSOR, flags, looks_secret, secret_flag_message
from vllmctl.core.pod_security import baseline_violations
from vllmctl.core.quantity import QuantityError, parse_quantity
from vllmctl.core.secret_layout import API_KEY, HF_TOKEN
from vllmctl.core.shared_cache import MOUNT as SHARED_CACHE_MOUNT

if TYPE_CHECKING:  # for annotations only: rendering and the models file import pydantic
    from vllmctl.core.models_file import ModelsDocument
    from vllmctl.core.render import RenderRequest

ERROR = "error"
WARNING = "warning"
# Environment variables that hold a secret: they must come from a Secret, never as a literal value.
SECRET_ENV = frozenset({"HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HUGGINGFACEHUB_API_TOKEN", "VLLM_API_KEY",
                        "OPENAI_API_KEY"})
POD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job")
READ_KINDS = frozenset({*POD_KINDS, "Pod", "CronJob", "RayCluster", "ConfigMap", "Secret", "PersistentVolumeClaim",
                        "LoraAdapter", "Service"})
_DOCUMENT = re.compile(r"^---[ \t]*$", re.M)
_KIND = re.compile(r"^kind:[ \t]*[\"']?(\w+)", re.M)


@dataclass(frozen=True)
class Finding:
    message: str
    subject: str  # "model 'chat', Deployment/vllm-chat-deployment-vllm", "router, Deployment/...", "ConfigMap/x"
    severity: str = ERROR
    file: str = ""
    line: int = 0
    column: int = 0

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}: " if self.file else ""
        return f"{where}{self.subject}: {self.message}"

    def as_dict(self) -> dict:
        return {"file": self.file or None, "line": self.line or None, "column": self.column or None,
                "subject": self.subject, "severity": self.severity, "message": self.message}


@dataclass(frozen=True)
class LintInput:
    manifests: str
    request: RenderRequest
    document: ModelsDocument | None = None  # for file:line; None: no locations
    chart_defaults: dict = field(default_factory=dict)  # the chart's own values.yaml
    claims: frozenset[str] | None = None  # PVC names in the namespace; None: no cluster at hand


def _load(text: str) -> list[dict]:
    """The objects the rules read; the others (Services, RBAC, ...) are skipped unparsed, since
    parsing YAML is most of the check's time."""
    import yaml

    from vllmctl.core.gc_pause import gc_paused

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    wanted = [doc for doc in _DOCUMENT.split(text or "") if (m := _KIND.search(doc)) and m.group(1) in READ_KINDS]
    with gc_paused():
        return [d for d in (yaml.load(doc, Loader=loader) for doc in wanted) if isinstance(d, dict)]


def _name(obj: dict) -> str:
    return str((obj.get("metadata") or {}).get("name", "?"))


def pod_templates(obj: dict) -> list[dict]:
    """The pod templates ({metadata, spec}) of a workload object; [] for anything else."""
    kind, spec = obj.get("kind"), obj.get("spec") or {}
    if kind == "Pod":
        return [obj]
    if kind in POD_KINDS:
        return [spec.get("template") or {}]
    if kind == "CronJob":
        return [((spec.get("jobTemplate") or {}).get("spec") or {}).get("template") or {}]
    if kind == "RayCluster":
        groups = [spec.get("headGroupSpec") or {}, *(spec.get("workerGroupSpecs") or [])]
        return [g.get("template") or {} for g in groups if isinstance(g, dict)]
    return []


def _gpus(resources: dict, section: str) -> int:
    total = 0
    for key, value in ((resources or {}).get(section) or {}).items():
        if str(key).endswith("/gpu"):
            try:
                total += int(str(value))
            except ValueError:
                continue
    return total


def _env(container: dict) -> dict[str, dict]:
    return {e["name"]: e for e in container.get("env") or [] if isinstance(e, dict) and isinstance(e.get("name"), str)}


def _from_secret(entry: dict | None, layout) -> bool:
    ref = ((entry or {}).get("valueFrom") or {}).get("secretKeyRef") or {}
    return ref.get("name") == layout.secret_name and ref.get("key") == layout.secret_key


def _argv(container: dict) -> list[str]:
    return [str(a) for a in (container.get("command") or []) + (container.get("args") or [])]


def _serve_args(container: dict) -> list[str]:
    """What follows `vllm serve` in an engine container (the model, then its flags)."""
    argv = _argv(container)
    return argv[argv.index("serve") + 1:] if "serve" in argv else []


def _image_tag(image: str) -> str:
    name = image.split("@", 1)[0]
    return name.rsplit(":", 1)[1] if ":" in name.rsplit("/", 1)[-1] else ""


class _Lint:
    def __init__(self, inp: LintInput):
        self.inp = inp
        request = inp.request
        self.settings = request.settings
        self.models = {m.name: m for m in request.models if m.enabled}
        doc = inp.document
        self.index = {e.get("name"): i for i, e in enumerate(doc.entries) if isinstance(e, dict)} if doc else {}
        self.findings: list[Finding] = []

    # ------------------------------------------------------------------ reporting
    def add(self, subject: str, message: str, model: str | None = None, at: tuple = (),
            severity: str = ERROR) -> None:
        doc = self.inp.document
        if doc is not None and model in self.index:
            line, column = doc.locate((self.index[model], *at))
            self.findings.append(Finding(message, subject, severity, doc.file, line, column))
        else:
            self.findings.append(Finding(message, subject, severity))

    def _user_arg_at(self, model: str | None, value: str) -> tuple:
        entry = self.models.get(model) if model is not None else None
        args = entry.vllmConfig.extraArgs if entry is not None and entry.vllmConfig else []
        return ("vllmConfig", "extraArgs", args.index(value)) if value in args else ()

    # ------------------------------------------------------------------ the whole manifest
    def run(self) -> list[Finding]:
        objects = _load(self.inp.manifests)
        created = {_name(o) for o in objects if o.get("kind") == "PersistentVolumeClaim"}
        engines: list[routing.Engine] = []
        router = None
        router_name = f"{self.settings.release}-deployment-router"
        service_ports = next(({int(p["port"]) for p in (o.get("spec") or {}).get("ports") or []
                               if isinstance(p, dict) and str(p.get("port", "")).isdigit()}
                              for o in objects if o.get("kind") == "Service"
                              and _name(o) == f"{self.settings.release}-router-service"), None)
        scripts = {_name(o): o.get("data") or {} for o in objects if o.get("kind") == "ConfigMap"}
        for obj in objects:
            subject_obj = f"{obj.get('kind')}/{_name(obj)}"
            if obj.get("kind") == "RayCluster":
                self._ray_cluster(obj, subject_obj, scripts)
            if obj.get("kind") == "ConfigMap":
                self._config_map(obj, subject_obj)
            if obj.get("kind") == "Secret" and _name(obj) == f"{self.settings.release}-secrets" and obj.get("data"):
                self.add(subject_obj, "the chart's own Secret holds values, so they travel in the Helm release "
                         "values: use `vllmctl set-hf-token` / `vllmctl set-api-key` (Secret references)")
            for template in pod_templates(obj):
                labels = (template.get("metadata") or {}).get("labels") or {}
                model = labels.get("model") if labels.get("model") in self.models else None
                is_router = obj.get("kind") == "Deployment" and _name(obj) == router_name
                subject = (f"model '{model}', " if model else "router, " if is_router else "") + subject_obj
                self._pod(template, subject, model, created)
                if model and (engine := self._engine(template, subject, model)) is not None:
                    engines.append(engine)
                if is_router:
                    router = (template, subject)
        if router:
            self._router(*router, engines, service_ports)
        for subject, message, model, at, severity in lora.adapter_problems(
                objects, self.models, self.settings.release, self.inp.request.api_key):
            self.add(subject, message, model, at, severity)
        return self.findings

    def _config_map(self, obj: dict, subject: str) -> None:
        for key, value in (obj.get("data") or {}).items():
            if looks_secret(str(value)):
                self.add(subject, f"data {key!r} holds what looks like a token or key; keep secrets in Secrets "
                         "(`vllmctl set-hf-token` / `vllmctl set-api-key`)")

    # ------------------------------------------------------------------ every pod
    def _pod(self, template: dict, subject: str, model: str | None, created: set[str]) -> None:
        spec = template.get("spec") or {}
        claims = self.inp.claims
        own = f"{self.settings.release}-{model}-storage-claim" if model else None
        for volume in spec.get("volumes") or []:
            claim = ((volume or {}).get("persistentVolumeClaim") or {}).get("claimName")
            if not claim or claim in created or (claims is not None and claim in claims):
                continue
            name = volume.get("name")
            if claim == own:  # the chart's own cache claim, mounted where the chart does not create it
                self.add(subject, f"volume {name!r} claims PersistentVolumeClaim {claim!r}, which this release does "
                         "not create: the pod would stay Pending; set pvcStorage to a size, or to \"\" for no cache "
                         "volume", model, ("pvcStorage",))
            elif claims is not None:
                self.add(subject, f"volume {name!r} claims PersistentVolumeClaim {claim!r}, which this release does "
                         f"not create nor exists in namespace {self.settings.namespace!r}: the pod would stay Pending; "
                         "create the claim first, or change the values that mount it", model)
            else:
                self.add(subject, f"volume {name!r} claims PersistentVolumeClaim {claim!r}, which this release does "
                         f"not create: make sure it exists in namespace {self.settings.namespace!r} (install and "
                         "diff check the cluster)", model, severity=WARNING)
        # VLLM_POD_SECURITY=privileged relaxes the namespace for the host namespaces of the disaggregated
        # prefill engines only; everything else still has to pass baseline.
        entry = self.models.get(model) if model else None
        host = (self.settings.pod_security == routing.PRIVILEGED and entry is not None
                and entry.lmcache is not None and entry.lmcache.role is not None)
        for violation in baseline_violations(spec, (template.get("metadata") or {}).get("annotations"),
                                             host_ipc_pid=host):
            self.add(subject, f"breaks the Pod Security baseline profile the namespace enforces: {violation}",
                     model)
        for group in ("initContainers", "containers"):
            for container in spec.get(group) or []:
                if isinstance(container, dict):
                    self._container(container, subject, model)

    def _container(self, container: dict, subject: str, model: str | None) -> None:
        name = container.get("name", "?")
        image = str(container.get("image") or "")
        tag, name_part = _image_tag(image), image.split("@", 1)[0]
        repository = name_part[: -(len(tag) + 1)] if tag else name_part.rstrip(":")
        if not repository.strip() or not tag and "@" not in image:
            at = ("tag",) if model and self.models[model].tag is not None else ("image",)
            self.add(subject, f"container {name!r} has image {image!r}: an image needs a repository and a tag "
                     "(VLLM_MODEL_IMAGE / VLLM_MODEL_TAG, or image/tag in models.yaml)", model, at)
        self._resources(container, subject, model)
        for env_name, entry in _env(container).items():
            if env_name in SECRET_ENV and "value" in entry:
                self.add(subject, f"container {name!r} sets {env_name} as a literal value; it must come from a "
                         "Secret (`vllmctl set-hf-token` / `vllmctl set-api-key`)", model, ("env", env_name))
            elif looks_secret(str(entry.get("value") or "")):
                self.add(subject, f"container {name!r}: env {env_name} holds what looks like a token or key; keep "
                         "it in a Secret (`vllmctl set-hf-token` / `vllmctl set-api-key`)", model, ("env", env_name))
        for arg in _argv(container):
            if looks_secret(arg):
                self.add(subject, f"container {name!r} has what looks like a token or key in its command line; "
                         "keep it in a Secret (`vllmctl set-hf-token` / `vllmctl set-api-key`)", model,
                         self._user_arg_at(model, arg))

    def _resources(self, container: dict, subject: str, model: str | None) -> None:
        resources = container.get("resources") or {}
        requests, limits = resources.get("requests") or {}, resources.get("limits") or {}
        at = {"memory": ("limitMemory",), "cpu": ("requestCPU",)}
        for key in sorted(set(requests) & set(limits)):
            where = at.get(key, ("requestGPU",))
            if "/" in str(key) and not str(key).startswith(("kubernetes.io/", "requests.")):
                if str(requests[key]) != str(limits[key]):
                    self.add(subject, f"{key} request {requests[key]} differs from its limit {limits[key]}; the API "
                             "server takes extended resources only with request = limit", model, where)
                continue
            try:
                over = parse_quantity(str(requests[key])) > parse_quantity(str(limits[key]))
            except QuantityError as e:
                self.add(subject, f"{key}: {e}", model, where)
                continue
            if over:
                self.add(subject, f"container {container.get('name', '?')!r} requests {key} {requests[key]} above "
                         f"its limit {limits[key]}; the API server refuses that", model, where)

    # ------------------------------------------------------------------ engines
    def _engine(self, template: dict, subject: str, model: str) -> routing.Engine | None:
        """The engine container's needs; returns what the router's rules read of it."""
        spec = template.get("spec") or {}
        containers = [c for c in spec.get("containers") or [] if isinstance(c, dict)]
        engine = next((c for c in containers if c.get("name") == "vllm"), containers[0] if containers else None)
        if engine is None:
            return None
        entry = self.models[model]
        found = flags(_serve_args(engine), _image_tag(str(engine.get("image") or "")) or None)
        last = {f.dest: f.value for f in found if isinstance(f.value, int)}
        tensor, pipeline = last.get(TENSOR, 1), last.get(PIPELINE, 1)
        size, at = tensor * pipeline, entry.parallelism.at
        gpus = _gpus(engine.get("resources") or {}, "limits")
        if size > 1 and gpus < size:
            have = "none" if gpus == 0 else f"{gpus}"
            self.add(subject, f"tensor x pipeline parallelism {tensor} x {pipeline} needs {size} GPUs but the "
                     f"container's GPU limit is {have}: set requestGPU to {size}", model, ("requestGPU",))
        if size > 1 and not self._shm(spec, engine):
            self.add(subject, f"tensor x pipeline parallelism {tensor} x {pipeline} needs shared memory, but no "
                     "memory-backed emptyDir is mounted at /dev/shm (NCCL fails at start); give the tensor size as "
                     "vllmConfig.tensorParallelSize, once, which is what makes the chart mount it", model, at)
        for f in found:
            if f.dest in SECRET_FLAGS:
                self.add(subject, secret_flag_message(f), model, self._user_arg_at(model, f.flag))
        for message, where in lora.engine_problems(entry, spec, engine, _serve_args(engine)):
            self.add(subject, message, model, where)
        env = _env(engine)
        if self.settings.shared_cache_size and entry.multiNode is None and (
                (env.get("HF_HOME") or {}).get("value") != SHARED_CACHE_MOUNT):
            self.add(subject, f"the engine's HF_HOME is {(env.get('HF_HOME') or {}).get('value')!r}, not the shared "
                     f"cache {SHARED_CACHE_MOUNT}: it would download the model on every start", model)
        if model in self.inp.request.hf_token_models and not _from_secret(env.get("HF_TOKEN"), HF_TOKEN):
            self.add(subject, f"the model needs the Hugging Face token, but HF_TOKEN does not come from the "
                     f"Secret {HF_TOKEN.secret_name!r} (key {HF_TOKEN.secret_key!r})", model,
                     ("hfTokenRequired",) if entry.hfTokenRequired is not None else ("modelURL",))
        if self.inp.request.api_key and not _from_secret(env.get("VLLM_API_KEY"), API_KEY):
            self.add(subject, f"VLLM_API_KEY does not come from the Secret {API_KEY.secret_name!r}: the engine "
                     "would serve without the API key", model)
        return routing.engine_of(model, spec, env, _serve_args(engine))

    def _ray_cluster(self, obj: dict, subject: str, scripts: dict[str, dict]) -> None:
        """A multi-node model: its GPUs per pod and in all against the start script's parallelism,
        and /dev/shm in every pod (NCCL and Ray's object store use it)."""
        from vllmctl.core.gpu_types import extended
        from vllmctl.core.multinode import start_args
        from vllmctl.core.placement import gpu_resource

        model = ((obj.get("metadata") or {}).get("labels") or {}).get("model")
        entry = self.models.get(model) if isinstance(model, str) else None
        if entry is None:
            return
        subject, spec, resource = f"model '{model}', {subject}", obj.get("spec") or {}, gpu_resource(entry)
        groups = [("head", spec.get("headGroupSpec") or {}, 1)] + [
            (f"worker group {g.get('groupName', '?')!r}", g, int(g.get("replicas") or 0))
            for g in spec.get("workerGroupSpecs") or [] if isinstance(g, dict)]
        held = []
        for what, group, count in groups:
            pod = (group.get("template") or {}).get("spec") or {}
            containers = [c for c in pod.get("containers") or [] if isinstance(c, dict)]
            if not containers:
                continue
            held.append((what, extended((containers[0].get("resources") or {}).get("limits")).get(resource, 0), count))
            if not self._shm(pod, containers[0]):
                self.add(subject, f"the Ray {what} mounts no memory-backed emptyDir at /dev/shm (NCCL and Ray's object "
                         "store need it); vllmConfig.tensorParallelSize is what makes the chart mount it", model,
                         ("multiNode",))
        script = (scripts.get(f"{model}-vllm-start-script") or {}).get("vllm-entrypoint.sh", "")
        last = {f.dest: f.value for f in flags(start_args(script), entry.tag) if isinstance(f.value, int)}
        tensor, pipeline = last.get(TENSOR, 1), last.get(PIPELINE, 1)
        total = sum(gpus * count for _, gpus, count in held)
        if tensor * pipeline > total:
            parts = " + ".join(f"{what} {count} x {gpus}" for what, gpus, count in held)
            self.add(subject, f"tensor x pipeline parallelism {tensor} x {pipeline} needs {tensor * pipeline} "
                     f"{resource} but the Ray cluster holds {total} ({parts}): make multiNode.nodes x requestGPU "
                     "match it", model, ("multiNode", "nodes"))

    @staticmethod
    def _shm(spec: dict, container: dict) -> bool:
        memory = {v.get("name") for v in spec.get("volumes") or []
                  if isinstance(v, dict) and ((v.get("emptyDir") or {}).get("medium") == "Memory")}
        return any(m.get("mountPath") == "/dev/shm" and m.get("name") in memory
                   for m in container.get("volumeMounts") or [] if isinstance(m, dict))

    # ------------------------------------------------------------------ the router
    def _router(self, template: dict, subject: str, engines: list[routing.Engine],
                service_ports: set[int] | None) -> None:
        containers = [c for c in (template.get("spec") or {}).get("containers") or [] if isinstance(c, dict)]
        if not containers:
            return
        router = containers[0]
        for message in routing.router_problems(_argv(router), engines, service_ports, self.settings.release):
            self.add(subject, message)
        if self.inp.request.api_key and not _from_secret(
                _env(router).get("VLLM_API_KEY"), API_KEY):
            self.add(subject, f"VLLM_API_KEY does not come from the Secret {API_KEY.secret_name!r}: the router "
                     "would serve without the API key")
        self._router_memory(router, subject)

    def _router_memory(self, router: dict, subject: str) -> None:
        default = str(((self.inp.chart_defaults.get("routerSpec") or {}).get("resources") or {})
                      .get("limits", {}).get("memory") or "")
        limit = str(((router.get("resources") or {}).get("limits") or {}).get("memory") or "")
        try:
            below = bool(default and limit) and parse_quantity(limit) < parse_quantity(default)
        except QuantityError:
            return
        if below:
            version = self.inp.request.chart_version
            self.add(subject, f"the router's memory limit {limit} is below vllm-stack {version}'s own default "
                     f"{default} (routers with less have been reported to run out of memory): raise "
                     "VLLM_ROUTER_LIMIT_MEMORY", severity=WARNING)


def lint(inp: LintInput) -> list[Finding]:
    """Every finding of the chart check, errors and warnings, in manifest order."""
    return _Lint(inp).run()


def errors(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.severity == ERROR]
