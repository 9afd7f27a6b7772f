"""Accuracy on 10 real public models (tests/unit/data/model_facts/models.json, every fact sourced).

From config.json alone the weights must be within 2 % of the real safetensors bytes and the KV
cache per token exact; through the fake Hub (huggingface_hub against the Hub's API shapes) the
parameter count is the Hub's own, exactly.
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


def test_the_set_covers_what_the_issue_names():
    kinds = " ".join(m["kind"] for m in MODELS)
    assert len(MODELS) >= 10
    for kind in ("dense small", "dense large", "GQA", "mixture of experts", "FP8", "vision-language"):
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
    if model["safetensors"]:
        assert params == mf.Figure(sum(model["safetensors"].values()), mf.EXACT)
        assert weights == mf.Figure(model["weight_bytes"], mf.EXACT)
    else:  # no safetensors metadata: estimated, and still within 2 %
        assert params.basis == weights.basis == mf.ESTIMATED
        assert weights.value == pytest.approx(model["weight_bytes"], rel=0.02)
