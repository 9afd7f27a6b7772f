"""The shipped data and the stdlib checker against the REAL vLLM parser.

Runs where `import vllm` works: in VLLM_ENGINE_PYTHON, else in the engine venv that `just setup`
(scripts/engine_venv.sh) builds, else in this interpreter. These tests are marked `real`: a skip
(no vllm) is a failure in CI (VLLMCTL_REQUIRE_REAL_SERVERS=1), like a missing test server. Locally
without the venv they skip, and the committed golden verdicts (tests/unit/test_engine_args.py)
stand in for them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from vllmctl.core import engine_args as ea
from vllmctl.core.engine_argv import engine_argv
from vllmctl.workflows.deep_check import DeepCheckModel, deep_check, engine_python

ROOT = Path(__file__).resolve().parents[2]
GEN = ROOT / "scripts" / "gen_engine_args.py"
UNIT_DATA = ROOT / "tests" / "unit" / "data"
QWEN_CONFIG = {
    "architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "hidden_size": 896,
    "intermediate_size": 4864, "num_attention_heads": 14, "num_hidden_layers": 24, "num_key_value_heads": 2,
    "vocab_size": 151936, "max_position_embeddings": 32768, "tie_word_embeddings": True,
    "torch_dtype": "bfloat16", "hidden_act": "silu", "rms_norm_eps": 1e-06, "rope_theta": 1000000.0,
    "bos_token_id": 151643, "eos_token_id": 151645,
}


def _env() -> dict[str, str]:
    return {**os.environ, "VLLM_TARGET_DEVICE": os.environ.get("VLLM_TARGET_DEVICE", "cpu"),
            "VLLM_LOGGING_LEVEL": "ERROR", "HF_HUB_OFFLINE": "1"}




def _engine_venv_python() -> Path:
    """Where scripts/engine_venv.sh builds the venv of the pinned vllm (it alone knows the key)."""
    out = subprocess.run(["bash", str(ROOT / "scripts" / "engine_venv.sh"), "--path"], capture_output=True,
                         text=True, check=True)
    return Path(out.stdout.strip()) / "bin" / "python"


@pytest.fixture(scope="module")
def vllm_python() -> tuple[str, str]:
    venv_python = _engine_venv_python()
    python = os.environ.get("VLLM_ENGINE_PYTHON") or (str(venv_python) if venv_python.exists() else engine_python())
    try:
        proc = subprocess.run([python, "-c", "import vllm; print(vllm.__version__)"], capture_output=True,
                              text=True, timeout=180, env=_env())
    except (OSError, subprocess.TimeoutExpired) as e:
        pytest.skip(f"cannot run {python}: {e}")
    if proc.returncode != 0:
        pytest.skip(f"vllm is not importable by {python} (run scripts/engine_venv.sh or set VLLM_ENGINE_PYTHON)")
    version = proc.stdout.strip().splitlines()[-1]
    if version not in ea.available_versions():
        pytest.skip(f"no shipped argument data for the installed vLLM {version}")
    return python, version


def _gen(python: str, *args: str) -> None:
    subprocess.run([python, str(GEN), *args], check=True, capture_output=True, text=True, timeout=600, env=_env())


@pytest.mark.real
def test_shipped_data_is_what_the_script_produces(vllm_python, tmp_path):
    python, version = vllm_python
    out = tmp_path / "data.json"
    _gen(python, "data", "--out", str(out))
    shipped = ea.DATA_DIR / f"vllm-{version}.json"
    assert json.loads(out.read_text()) == json.loads(shipped.read_text()), (
        f"regenerate with: VLLM_TARGET_DEVICE=cpu {python} scripts/gen_engine_args.py")


@pytest.mark.real
def test_checker_matches_the_real_parser_on_every_case(vllm_python, tmp_path):
    python, version = vllm_python
    out = tmp_path / "verdicts.json"
    _gen(python, "verdicts", "--out", str(out))
    fresh = json.loads(out.read_text())
    golden = json.loads((UNIT_DATA / f"engine_verdicts-{version}.json").read_text())
    assert [(v["id"], v["ok"]) for v in fresh["verdicts"]] == [(v["id"], v["ok"]) for v in golden["verdicts"]]
    spec = ea.load_spec(version)
    for v in fresh["verdicts"]:
        problems = ea.check_argv(v["argv"], spec)
        assert ea.parser_rejects(problems) == (not v["ok"]), (v["id"], v["error"], [str(p) for p in problems])


@pytest.mark.real
def test_config_field_types_match_pydantic_on_every_probe(vllm_python, tmp_path):
    """Every recorded config field against a battery of JSON values: vllmctl refuses exactly what
    vLLM's pydantic validation refuses at that key (or what a validator raises on)."""
    python, version = vllm_python
    out = tmp_path / "fields.json"
    _gen(python, "fields", "--out", str(out))
    fields = json.loads(out.read_text())["fields"]
    assert len(fields) > 1000
    spec = ea.load_spec(version)
    wrong = []
    for f in fields:
        problems = ea.check_argv(["m", f["option"], json.dumps({f["key"]: f["value"]})], spec)
        refused = any(p.severity == ea.ERROR and repr(f["key"]) in p.message for p in problems)
        if refused != bool(f["refused"]):
            wrong.append((f, [str(p) for p in problems]))
    assert not wrong, wrong[:5]


def _model(name: str, **vllm_config) -> DeepCheckModel:
    spec = {"name": name, "modelURL": "Qwen/Qwen2.5-0.5B-Instruct",
            "vllmConfig": {"extraArgs": ["--served-model-name", name], **vllm_config}}
    return DeepCheckModel(name, spec["modelURL"], engine_argv(spec, "0.1.12"), gpu_memory_bytes=16 * 2**30)


@pytest.mark.real
def test_deep_check_catches_model_dependent_errors(vllm_python, tmp_path):
    python, version = vllm_python
    cfg = tmp_path / "Qwen" / "Qwen2.5-0.5B-Instruct"
    cfg.mkdir(parents=True)
    (cfg / "config.json").write_text(json.dumps(QWEN_CONFIG))
    models = [_model("ok", maxModelLen=4096), _model("tp3", tensorParallelSize=3),
              _model("too-long", maxModelLen=65536), _model("gmu", gpuMemoryUtilization=1.5)]
    report = deep_check(models, ea.load_spec(version), config_dir=tmp_path, python=python, timeout=600)
    assert report.engine_error is None and report.vllm_version == version
    by = {r.name: r for r in report.results}
    assert by["ok"].status == "ok" and by["ok"].estimate.params == 494_032_768
    assert by["tp3"].status == "failed" and "divisible by tensor parallel size (3)" in by["tp3"].message
    assert by["too-long"].status == "failed" and "max_model_len" in by["too-long"].message
    assert by["gmu"].status == "failed" and "gpu_memory_utilization" in by["gmu"].message
    # each model is timed; no absolute bound: a loaded 2-core CI machine stretches the engine start-up
    assert all(r.seconds is not None and 0 < r.seconds < 600 for r in report.results)


def test_deep_check_without_vllm_reports_why(tmp_path):
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "config.json").write_text(json.dumps(QWEN_CONFIG))
    spec = ea.load_spec(ea.available_versions()[-1])
    model = DeepCheckModel("m", "org/m", engine_argv({"name": "m", "modelURL": "org/m"}, "0.1.12"))
    fake = tmp_path / "python-without-vllm"
    fake.write_text(f"#!/bin/sh\nexec {sys.executable} -S \"$@\"\n")
    fake.chmod(0o755)
    report = deep_check([model], spec, config_dir=tmp_path, python=str(fake))
    assert report.engine_error and "VLLM_ENGINE_PYTHON" in report.engine_error
    assert report.results[0].estimate is not None  # the memory estimate needs no vllm
