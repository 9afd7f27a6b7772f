"""Accuracy on 13 real public models (tests/unit/data/model_facts/models.json, every fact sourced).

From config.json alone the weights must be within 2 % of the real safetensors bytes and the KV
cache per token exact; through the fake Hub (huggingface_hub against the Hub's API shapes) the
parameter count is the Hub's own, exactly, except for a quantized checkpoint, whose Hub counts
are not parameters.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.fakes.hub import FakeHub, FakeRepo
from vllmctl.adapters.hf_facts import fetch_facts
from vllmctl.core import model_facts as mf

DATA = json.loads((Path(__file__).parent / "data" / "model_facts" / "models.json").read_text())
MODELS = DATA["models"]
IDS = [m["repo"] for m in MODELS]
QUANTIZED = {m["repo"]: m["config"]["quantization_config"]["quant_method"] for m in MODELS
             if m["config"].get("quantization_config")}


def test_the_set_covers_what_the_issue_names():
    kinds = " ".join(m["kind"] for m in MODELS)
    assert len(MODELS) >= 10
    for kind in ("dense small", "dense large", "GQA", "mixture of experts", "FP8", "AWQ", "GPTQ", "vision-language"):
        assert kind in kinds, kind
    assert all(m["sources"] for m in MODELS)


@pytest.mark.parametrize("model", MODELS, ids=IDS)
def test_weights_from_config_within_two_percent(model):
    facts = mf.ModelFacts(model["repo"], "main", config=model["config"])
    est = mf.weight_bytes(facts)
    assert est.basis == mf.ESTIMATED
    assert est.value == pytest.approx(model["weight_bytes"], rel=0.02)


@pytest.mark.parametrize("model", MODELS, ids=IDS)
def test_kv_bytes_per_token_exact(model):
    kv = mf.kv_bytes_per_token(mf.ModelFacts(model["repo"], "main", config=model["config"]))
    assert kv.value == model["kv_bytes_per_token"]
    # sliding-window layers (Mistral v0.1, Gemma 3) make the full-attention figure an upper bound, and it says so
    windowed = model["repo"] in ("mistralai/Mistral-7B-Instruct-v0.1", "unsloth/gemma-3-27b-it")
    assert kv.basis == (mf.ESTIMATED if windowed else mf.EXACT)


@pytest.mark.parametrize("model", [m for m in MODELS if m["safetensors"]], ids=lambda m: m["repo"])
def test_closed_form_parameter_count_matches_the_hub(model):
    estimated = mf.parameters(mf.ModelFacts(model["repo"], "main", config=model["config"]))
    assert estimated.value == sum(model["safetensors"].values())


@pytest.fixture(scope="module")
def hub():
    repos = {m["repo"]: FakeRepo(config=m["config"], safetensors=m["safetensors"], gated=m.get("gated", False),
                                 allowed={"hf_token_ok"}, sha=f"{i:040x}")
             for i, m in enumerate(MODELS, start=1)}
    with FakeHub(repos, {"hf_token_ok": "alice"}) as fake:
        yield fake


@pytest.mark.parametrize("model", MODELS, ids=IDS)
def test_through_the_fake_hub(model, hub, tmp_path):
    data = fetch_facts(model["repo"], "main", cache_dir=tmp_path, endpoint=hub.url,
                       token_source=lambda: "hf_token_ok")
    facts = mf.ModelFacts.from_dict(data, source="hub")
    assert facts.config == model["config"] and facts.sha and len(facts.sha) == 40
    params, weights = mf.parameters(facts), mf.weight_bytes(facts)
    if model["safetensors"] and model["repo"] not in QUANTIZED:
        assert params == mf.Figure(sum(model["safetensors"].values()), mf.EXACT)
        assert weights == mf.Figure(model["weight_bytes"], mf.EXACT)
    else:  # no safetensors metadata, or packed integers: estimated, and still within 2 %
        assert params.basis == weights.basis == mf.ESTIMATED
        assert weights.value == pytest.approx(model["weight_bytes"], rel=0.02)


@pytest.mark.parametrize("repo", sorted(QUANTIZED), ids=str)
def test_a_quantized_checkpoint_is_sized_by_its_packing(repo):
    """Packed 4-bit weights with a 16-bit scale and a 4-bit zero point per group of 128: AWQ to
    the byte; GPTQ within 0.2 % (its act-order index, 32 bits per input row, is not counted)."""
    model = next(m for m in MODELS if m["repo"] == repo)
    est = mf.weight_bytes(mf.ModelFacts(repo, "main", config=model["config"])).value
    if QUANTIZED[repo] == "awq":
        assert est == model["weight_bytes"]
    else:
        assert 0 < model["weight_bytes"] - est < 0.002 * model["weight_bytes"]


def test_the_hubs_counts_of_a_quantized_checkpoint_give_its_bytes_either_way():
    """The Hub counts a packed int32 by the 4-bit weights it holds; a header listing counts its
    elements. Either way the bytes are Qwen2.5-7B-Instruct-AWQ's 5,570,747,392, never counts x 4."""
    model = next(m for m in MODELS if m["repo"] == "Qwen/Qwen2.5-7B-Instruct-AWQ")
    hub = mf.ModelFacts(model["repo"], "main", config=model["config"], safetensors=model["safetensors"])
    stored = mf.ModelFacts(model["repo"], "main", config=model["config"],
                           safetensors={"I32": 822_033_408, "F16": 1_141_306_880})
    assert mf.weight_bytes(hub) == mf.Figure(model["weight_bytes"], mf.ESTIMATED)
    assert mf.weight_bytes(stored) == mf.Figure(model["weight_bytes"], mf.EXACT)
    assert mf.parameters(hub) == mf.Figure(7_615_616_512, mf.ESTIMATED)
