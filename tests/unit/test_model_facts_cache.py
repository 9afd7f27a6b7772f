"""Model facts: the cache first, the Hub for what is missing or stale, "unknown" rather than a guess."""

from __future__ import annotations

import os
import time

import pytest

from tests.fakes.hub import FakeHub, FakeRepo
from vllmctl.adapters.hf import HubNotFound, HubUnreachable
from vllmctl.core.model_facts import ModelFacts
from vllmctl.workflows import model_facts as wf

CONFIG = {"model_type": "qwen2", "hidden_size": 896, "intermediate_size": 4864, "num_attention_heads": 14,
          "num_hidden_layers": 24, "num_key_value_heads": 2, "vocab_size": 151936, "tie_word_embeddings": True}
SHA = "ab" * 20


def data(revision="main"):
    return {"repo": "Qwen/Q", "revision": revision, "sha": SHA, "config": CONFIG, "safetensors": {"BF16": 494032768},
            "files": {"model.safetensors": 988097824}, "gated": False, "fetched_at": "2026-11-30T10:00:00Z"}


class Fetch:
    def __init__(self, result=None, error=None):
        self.result, self.error, self.calls = result, error, 0

    def __call__(self, repo, revision, **kw):
        self.calls += 1
        if self.error:
            raise self.error
        return self.result


def one(tmp_path, fetch, offline=False, revision="main"):
    return wf.one("Qwen/Q", revision, cache_dir=tmp_path, offline=offline, fetch=fetch)


def age(tmp_path, seconds, revision="main"):
    path = wf.cache_path(tmp_path, "Qwen/Q", revision)
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_hub_then_cache(tmp_path):
    fetch = Fetch(data())
    first = one(tmp_path, fetch)
    assert first.source == "hub" and first.sha == SHA and fetch.calls == 1
    assert wf.cache_path(tmp_path, "Qwen/Q", "main").is_file()
    again = one(tmp_path, Fetch(error=AssertionError("a fresh cache must not ask the Hub")))
    assert again.source == "cache" and again.safetensors == {"BF16": 494032768} and again.config == CONFIG


def test_a_stale_branch_is_asked_again_a_commit_never(tmp_path):
    one(tmp_path, Fetch(data()))
    one(tmp_path, Fetch(data(SHA)), revision=SHA)
    age(tmp_path, wf.CACHE_TTL_SECONDS + 1)
    age(tmp_path, wf.CACHE_TTL_SECONDS * 10, revision=SHA)
    fetch = Fetch(data())
    assert one(tmp_path, fetch).source == "hub" and fetch.calls == 1
    assert one(tmp_path, Fetch(error=AssertionError("commit facts never change")), revision=SHA).source == "cache"


def test_offline_uses_any_cache_and_never_the_hub(tmp_path):
    never = Fetch(error=AssertionError("offline must not ask the Hub"))
    missing = one(tmp_path, never, offline=True)
    assert missing.source == "unknown" and not missing.known and missing.problem == "offline and nothing cached"
    one(tmp_path, Fetch(data()))
    age(tmp_path, wf.CACHE_TTL_SECONDS * 30)
    assert one(tmp_path, never, offline=True).source == "cache"


def test_unreachable_hub_falls_back_to_the_cache_and_says_so(tmp_path):
    down = Fetch(error=HubUnreachable("cannot reach the Hugging Face Hub at http://x (ConnectError)."))
    nothing = one(tmp_path, down)
    assert nothing.source == "unknown" and "cannot reach" in nothing.problem and "nothing cached" in nothing.problem
    one(tmp_path, Fetch(data()))
    age(tmp_path, wf.CACHE_TTL_SECONDS + 1)
    stale = one(tmp_path, down)
    assert stale.source == "cache" and stale.known and "unreachable" in stale.problem


def test_missing_repository_is_unknown_with_the_reason(tmp_path):
    gone = one(tmp_path, Fetch(error=HubNotFound("model Qwen/Q@main was not found on the Hugging Face Hub.")))
    assert gone.source == "unknown" and gone.problem.endswith("not found on the Hugging Face Hub")


def test_a_corrupt_cache_file_is_ignored(tmp_path):
    path = wf.cache_path(tmp_path, "Qwen/Q", "main")
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    assert one(tmp_path, Fetch(data())).source == "hub"


def test_round_trip():
    facts = ModelFacts.from_dict(data())
    assert ModelFacts.from_dict(facts.as_dict()) == facts


@pytest.fixture
def hub():
    repos = {"Qwen/Q": FakeRepo(config=CONFIG, safetensors={"BF16": 494032768},
                                files={"model.safetensors": 988097824}, sha=SHA),
             "meta/gated": FakeRepo(config=CONFIG, gated="manual", allowed={"hf_good"}),
             "me/private": FakeRepo(config=CONFIG, private=True, allowed={"hf_good"})}
    with FakeHub(repos, {"hf_good": "alice", "hf_other": "bob"}) as fake:
        yield fake


def test_token_only_for_repositories_that_need_it(hub, tmp_path):
    asked = []

    def token():
        asked.append(1)
        return "hf_good"

    got = wf.gather([("Qwen/Q", "main"), ("meta/gated", "main"), ("me/private", "main")], cache_dir=tmp_path,
                    offline=False, token_source=token, endpoint=hub.url)
    assert all(f.known and f.source == "hub" for f in got.values())
    assert got[("meta/gated", "main")].gated == "manual"
    for r in hub.requests:
        sent = {k.lower(): v for k, v in r.headers.items()}.get("authorization")
        if "/Qwen/Q" in r.path:
            assert sent is None, r.path  # a public repository never sees the token
        if "/resolve/" in r.path and "gated" in r.path:
            assert sent == "Bearer hf_good"
    assert asked


def test_gated_without_a_token_is_unknown(hub, tmp_path):
    got = wf.one("meta/gated", "main", cache_dir=tmp_path, offline=False, token_source=lambda: None,
                 endpoint=hub.url)
    assert got.source == "unknown" and "gated" in got.problem and "VLLM_HF_TOKEN" not in got.problem


def test_revision_in_use(hub, tmp_path):
    hub.repos["Qwen/Q"].revisions["v1"] = {**CONFIG, "num_hidden_layers": 12}
    got = wf.one("Qwen/Q", "v1", cache_dir=tmp_path, offline=False, endpoint=hub.url)
    assert got.revision == "v1" and got.config["num_hidden_layers"] == 12
    assert any(r.path.startswith("/api/models/Qwen/Q/revision/v1") for r in hub.requests)
