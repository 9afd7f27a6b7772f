"""The deep-check workflow's plumbing, with a stand-in for the vllm child process and the Hub."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.fakes.hub import FakeHub, FakeRepo
from vllmctl.adapters.hf import HubClient
from vllmctl.core import engine_args as ea
from vllmctl.core.engine_argv import engine_argv
from vllmctl.workflows import deep_check as dc

SPEC = ea.load_spec("0.32.0")
TOKEN = "hf_deep_check_secret"
CONFIG = {
    "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 4096,
    "intermediate_size": 14336, "num_attention_heads": 32, "num_hidden_layers": 32,
    "num_key_value_heads": 8, "vocab_size": 128256, "max_position_embeddings": 131072,
    "tie_word_embeddings": False, "torch_dtype": "bfloat16",
}

# Answers like engine_probe.py: "bad*" models fail at the engine stage; records what it was given.
FAKE_PROBE = """
import json, os, sys
request = json.load(sys.stdin)
record = {"argv": sys.argv, "env": dict(os.environ), "request": request}
open(os.environ["FAKE_PROBE_RECORD"], "w").write(json.dumps(record))
results = []
for m in request["models"]:
    bad = m["name"].startswith("bad")
    results.append({"name": m["name"], "ok": not bad, "stage": "engine" if bad else None,
                    "error": "Total number of attention heads (32) must be divisible by tensor parallel size (3)."
                    if bad else None, "seconds": 0.01, "max_model_len": None, "dtype": "bfloat16"})
print(json.dumps({"vllm_version": "0.32.0", "import_seconds": 0.1, "results": results}))
"""


@pytest.fixture
def fake_python(tmp_path, monkeypatch):
    probe = tmp_path / "fake_probe.py"
    probe.write_text(FAKE_PROBE)
    python = tmp_path / "python"
    python.write_text(f'#!/bin/sh\nexec {sys.executable} {probe}\n')  # ignores the real probe's path
    python.chmod(0o755)
    record = tmp_path / "record.json"
    monkeypatch.setenv("FAKE_PROBE_RECORD", str(record))
    monkeypatch.setenv("VLLMCTL_CHILD_ENV", "FAKE_PROBE_RECORD")  # the probe's environment is an allow-list
    return str(python), record


def _model(name, url="meta/llama", gpu=None, **cfg):
    spec = {"name": name, "modelURL": url,
            "vllmConfig": {"extraArgs": ["--served-model-name", name], "maxModelLen": 8192, **cfg}}
    return dc.DeepCheckModel(name, url, engine_argv(spec, "0.1.12"), gpu_memory_bytes=gpu)


def test_configs_from_the_hub_with_the_token_kept_in_the_parent(fake_python, tmp_path, monkeypatch):
    python, record = fake_python
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    repos = {"meta/llama": FakeRepo(config=CONFIG, gated="manual", allowed={TOKEN})}
    with FakeHub(repos, tokens={TOKEN: "alice"}) as hub:
        report = dc.deep_check([_model("llama"), _model("bad", tensorParallelSize=3)], SPEC,
                               cache_dir=tmp_path / "cache", hub=HubClient(hub.url), token=TOKEN, python=python)
    assert report.engine_error is None and report.vllm_version == "0.32.0"
    by = {r.name: r for r in report.results}
    assert by["llama"].status == "ok" and by["llama"].config_source == "hub"
    assert by["bad"].status == "failed" and by["bad"].stage == "engine" and "divisible" in by["bad"].message
    child = record.read_text()
    assert TOKEN not in child and "HF_TOKEN" not in json.loads(child)["env"]
    sent = json.loads(child)["request"]["models"][0]
    assert sent["config"] == CONFIG and sent["argv"][0] == "meta/llama"


def test_cached_config_is_used_offline(fake_python, tmp_path):
    python, _ = fake_python
    repos = {"meta/llama": FakeRepo(config=CONFIG)}
    with FakeHub(repos) as hub:
        dc.deep_check([_model("llama")], SPEC, cache_dir=tmp_path, hub=HubClient(hub.url), python=python)
    report = dc.deep_check([_model("llama")], SPEC, cache_dir=tmp_path, hub=None, python=python)
    assert report.results[0].status == "ok" and report.results[0].config_source.startswith(str(tmp_path))


def test_local_config_dir_layouts(tmp_path):
    for layout in ("meta/llama/config.json", "meta--llama/config.json", "llama/config.json"):
        path = tmp_path / layout
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps(CONFIG))
        config, source = dc.obtain_config(_model("m"), config_dir=tmp_path, cache_dir=None, hub=None, token=None)
        assert config == CONFIG and source == str(path)
        path.unlink()


def test_skips_say_why(fake_python, tmp_path):
    python, _ = fake_python
    with FakeHub({}) as hub:
        report = dc.deep_check(
            [_model("nohub"), _model("local", url="/data/models/x"), _model("missing", url="nobody/none")],
            SPEC, hub=None, python=python)
        missing = dc.deep_check([_model("missing", url="nobody/none")], SPEC, hub=HubClient(hub.url), python=python)
    by = {r.name: r for r in report.results}
    assert by["nohub"].status == "skipped" and "offline" in by["nohub"].message
    assert by["local"].status == "skipped" and "--model-config" in by["local"].message
    assert missing.results[0].status == "skipped" and "not found" in missing.results[0].message


def test_memory_estimate_and_fit_warning(fake_python, tmp_path):
    python, _ = fake_python
    (tmp_path / "llama").mkdir()
    (tmp_path / "llama" / "config.json").write_text(json.dumps(CONFIG))
    models = [_model("small", gpu=80 * 2**30), _model("tight", gpu=16 * 2**30, maxModelLen=131072)]
    report = dc.deep_check(models, SPEC, config_dir=tmp_path, python=python)
    by = {r.name: r for r in report.results}
    assert by["small"].estimate.params == 8_030_261_248 and by["small"].fit.fits
    assert not by["tight"].fit.fits
    assert any("'tight' may not fit" in w for w in report.warnings)
    assert json.dumps([r.to_dict() for r in report.results])


def test_missing_engine_python_is_reported(tmp_path):
    (tmp_path / "llama").mkdir()
    (tmp_path / "llama" / "config.json").write_text(json.dumps(CONFIG))
    report = dc.deep_check([_model("m")], SPEC, config_dir=tmp_path, python=str(tmp_path / "nope"))
    assert "does not exist" in report.engine_error and report.results[0].estimate is not None


def test_engine_python_from_environment(monkeypatch):
    monkeypatch.setenv(dc.ENGINE_PYTHON_ENV, "/opt/engine/bin/python")
    assert dc.engine_python() == "/opt/engine/bin/python"
    monkeypatch.delenv(dc.ENGINE_PYTHON_ENV)
    assert dc.engine_python() == sys.executable


def test_probe_file_imports_nothing_from_vllmctl():
    text = Path(dc.PROBE).read_text()
    assert "vllmctl" not in "".join(line for line in text.splitlines() if line.startswith(("import", "from")))
