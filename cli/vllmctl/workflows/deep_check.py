"""validate --deep: vLLM's own engine-config check per model, plus a GPU memory estimate.

vllm is never imported here: engine_probe.py runs in a child process of VLLM_ENGINE_PYTHON
(default: this interpreter), fed one JSON request on stdin. Each model's config.json comes from
a directory the user names (--model-config DIR), the local cache, or the Hub; the Hub token is
used only here, in the parent, and never reaches the child's argv or environment.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from vllmctl.core import gpu_memory
from vllmctl.core.cache_dir import user_cache_dir
from vllmctl.core.engine_args import EngineSpec, effective_values
from vllmctl.core.engine_argv import ArgToken

ENGINE_PYTHON_ENV = "VLLM_ENGINE_PYTHON"
PROBE = Path(__file__).resolve().parent.parent / "engine_probe.py"
DEFAULT_TIMEOUT = 600.0


class ConfigSource(Protocol):
    def config_json(self, repo: str, revision: str = "main", token: str | None = None) -> dict[str, Any]: ...


@dataclass(frozen=True)
class DeepCheckModel:
    name: str
    model_url: str
    tokens: Sequence[ArgToken]  # engine_argv(...) of the rendered modelSpec
    revision: str = "main"
    gpu_memory_bytes: int | None = None  # one GPU of the nodes this model may run on


@dataclass
class DeepCheckResult:
    name: str
    status: str  # "ok", "failed" or "skipped"
    message: str | None = None
    stage: str | None = None  # "parser" or "engine" when failed
    config_source: str | None = None
    estimate: gpu_memory.MemoryEstimate | None = None
    fit: gpu_memory.FitVerdict | None = None
    seconds: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "status": self.status, "message": self.message, "stage": self.stage,
            "config_source": self.config_source, "seconds": self.seconds,
            "estimate": self.estimate.to_dict() if self.estimate else None,
            "fit": None if self.fit is None else {
                "fits": self.fit.fits, "required_bytes": self.fit.required_bytes,
                "budget_bytes": self.fit.budget_bytes, "message": self.fit.message},
        }


@dataclass
class DeepCheckReport:
    results: list[DeepCheckResult]
    engine_python: str
    vllm_version: str | None = None
    import_seconds: float | None = None
    engine_error: str | None = None  # the probe could not run at all
    warnings: list[str] = field(default_factory=list)

    @property
    def failed(self) -> list[DeepCheckResult]:
        return [r for r in self.results if r.status == "failed"]


def engine_python() -> str:
    return os.environ.get(ENGINE_PYTHON_ENV) or sys.executable


def default_cache_dir() -> Path:
    return user_cache_dir("model-configs")


# ---------------------------------------------------------------------------- config.json


def local_config_candidates(config_dir: Path, model_url: str, revision: str = "main") -> list[Path]:
    """Where a config.json for a model may lie under a directory the user gave."""
    org_name = model_url.strip("/")
    flat = org_name.replace("/", "--")
    base = org_name.rsplit("/", 1)[-1]
    out = [config_dir / org_name / "config.json", config_dir / flat / "config.json",
           config_dir / base / "config.json", config_dir / f"{flat}.json", config_dir / f"{base}.json"]
    snapshots = config_dir / f"models--{flat}" / "snapshots"  # a Hugging Face cache
    if snapshots.is_dir():
        out += sorted(snapshots.glob("*/config.json"))
    return out


def _cache_path(cache_dir: Path, model_url: str, revision: str) -> Path:
    return cache_dir / model_url.strip("/").replace("/", "--") / revision.replace("/", "--") / "config.json"


def obtain_config(
    model: DeepCheckModel,
    *,
    config_dir: Path | None,
    cache_dir: Path | None,
    hub: ConfigSource | None,
    token: str | None,
) -> tuple[dict[str, Any] | None, str]:
    """(config.json, where it came from) or (None, why not)."""
    if config_dir is not None:
        for path in local_config_candidates(config_dir, model.model_url, model.revision):
            if path.is_file():
                return _read_json(path), str(path)
    if model.model_url.startswith(("/", ".", "file:")):
        return None, f"modelURL {model.model_url} is a path inside the pod: pass its config.json with --model-config"
    cached = _cache_path(cache_dir, model.model_url, model.revision) if cache_dir else None
    if cached is not None and cached.is_file():
        return _read_json(cached), str(cached)
    if hub is None:
        return None, "no config.json found locally and the Hub is not asked (offline)"
    from vllmctl.errors import HubError

    try:
        config = hub.config_json(model.model_url, model.revision, token)
    except HubError as e:
        return None, f"config.json not available: {e}"
    if cached is not None:
        _write_cache(cached, config)
    return config, "hub"


def _read_json(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path} is not a JSON object")
    return data


def _write_cache(path: Path, config: dict[str, Any]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(config, sort_keys=True), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        pass  # a cache is an optimisation only


# ---------------------------------------------------------------------------- the child process


class ProbeFailed(Exception):
    pass


def run_probe(requests: list[dict[str, Any]], *, python: str, timeout: float = DEFAULT_TIMEOUT) -> dict[str, Any]:
    """Run engine_probe.py under `python` and return its JSON result."""
    from vllmctl.adapters.child_process import environment

    env = environment(HF_HUB_OFFLINE="1")  # no secret: the probe reads config.json files only
    env.setdefault("VLLM_TARGET_DEVICE", "cpu")
    env.setdefault("VLLM_LOGGING_LEVEL", "ERROR")
    try:
        proc = subprocess.run(
            [python, str(PROBE)], input=json.dumps({"models": requests}), capture_output=True,
            text=True, timeout=timeout, env=env, check=False,
        )
    except FileNotFoundError:
        raise ProbeFailed(f"the engine Python {python} does not exist; set {ENGINE_PYTHON_ENV}.") from None
    except subprocess.TimeoutExpired:
        raise ProbeFailed(f"the vLLM engine check took longer than {timeout:g} s.") from None
    try:
        result = json.loads(proc.stdout)
    except ValueError:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise ProbeFailed(f"the vLLM engine check under {python} failed: {tail}") from None
    if "error" in result:
        raise ProbeFailed(f"{result['error']} (Python: {python}; set {ENGINE_PYTHON_ENV} to one that has "
                          "vllm, e.g. after pip install 'vllmctl[engine]').")
    return result


# ---------------------------------------------------------------------------- the workflow


def estimate_for(config: dict[str, Any], values: dict[str, Any], probe: dict[str, Any] | None = None):
    mml = (probe or {}).get("max_model_len") or values.get("max_model_len")
    if mml is not None and mml < 1:  # -1 / auto: the model's own limit
        mml = None
    return gpu_memory.estimate(
        config,
        dtype=(probe or {}).get("dtype") or values.get("dtype") or "auto",
        tensor_parallel_size=values.get("tensor_parallel_size") or 1,
        max_model_len=mml,
        kv_cache_dtype=values.get("kv_cache_dtype") or "auto",
    )


def deep_check(
    models: Sequence[DeepCheckModel],
    spec: EngineSpec,
    *,
    config_dir: Path | None = None,
    cache_dir: Path | None = None,
    hub: ConfigSource | None = None,
    token: str | None = None,
    python: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    run_engine: bool = True,
) -> DeepCheckReport:
    """Engine-config verdicts and memory estimates for every model that has a config.json."""
    python = python or engine_python()
    report = DeepCheckReport(results=[], engine_python=python)
    configs, requests = _read_configs(report, models, spec, config_dir=config_dir, cache_dir=cache_dir, hub=hub,
                                      token=token)
    probe_by_name = _probe(report, requests, spec, python, timeout) if requests and run_engine else {}
    gpu_by_name = {m.name: m.gpu_memory_bytes for m in models}
    for res in report.results:
        if res.status != "skipped":
            _judge(report, res, *configs[res.name], probe_by_name.get(res.name), gpu_by_name.get(res.name),
                   run_engine=run_engine)
    return report


def _read_configs(report: DeepCheckReport, models: Sequence[DeepCheckModel], spec: EngineSpec, **where
                  ) -> tuple[dict[str, tuple[dict[str, Any], dict[str, Any]]], list[dict]]:
    """Each model's config.json and engine values (a result per model: skipped without a config), and
    the probe's requests."""
    configs: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}
    requests = []
    for m in models:
        try:
            config, source = obtain_config(m, **where)
        except (OSError, ValueError) as e:
            config, source = None, f"config.json unreadable: {e}"
        if config is None:
            report.results.append(DeepCheckResult(m.name, "skipped", source))
            continue
        values = effective_values(m.tokens, spec)
        configs[m.name] = (config, values)
        report.results.append(DeepCheckResult(m.name, "ok", config_source=source))
        requests.append({"name": m.name, "argv": [t.value for t in m.tokens], "config": config})
    return configs, requests


def _probe(report: DeepCheckReport, requests: list[dict], spec: EngineSpec, python: str,
           timeout: float) -> dict[str, dict[str, Any]]:
    """vLLM's own verdicts from the engine Python, by model name (none when the probe failed)."""
    probe_by_name: dict[str, dict[str, Any]] = {}
    try:
        out = run_probe(requests, python=python, timeout=timeout)
        report.vllm_version = out.get("vllm_version")
        report.import_seconds = out.get("import_seconds")
        probe_by_name = {r["name"]: r for r in out["results"]}
    except ProbeFailed as e:
        report.engine_error = str(e)
    if report.vllm_version and report.vllm_version != spec.version:
        report.warnings.append(f"the engine Python has vLLM {report.vllm_version} but the image runs "
                               f"{spec.version}: its verdicts may differ from the pods'.")
    return probe_by_name


def _judge(report: DeepCheckReport, res: DeepCheckResult, config: dict[str, Any], values: dict[str, Any],
           probe: dict[str, Any] | None, gpu: int | None, *, run_engine: bool) -> None:
    """One model's verdict, memory estimate and fit, from its probe result and its GPU's memory."""
    if probe is not None:
        res.seconds = probe.get("seconds")
        if not probe["ok"]:
            res.status, res.stage, res.message = "failed", probe.get("stage"), probe.get("error")
    elif res.status == "ok" and run_engine:
        res.message = "engine check not run"
    try:
        res.estimate = estimate_for(config, values, probe if probe and probe.get("ok") else None)
    except (KeyError, TypeError, ValueError, ZeroDivisionError) as e:
        report.warnings.append(f"model {res.name!r}: no memory estimate ({type(e).__name__}: {e}).")
        return
    if gpu:
        res.fit = gpu_memory.fit(res.estimate, gpu, values.get("gpu_memory_utilization"))
        if not res.fit.fits:
            report.warnings.append(f"model {res.name!r} may not fit its GPUs: {res.fit.message}")
