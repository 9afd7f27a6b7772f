"""vllmctl bench against the fake server: the reported figures match what the server was told to do."""

from __future__ import annotations

import json

import pytest

from tests.fakes.openai_server import Behavior, FakeOpenAI
from tests.helpers import run_cli

KEY = "sk-bench-key"


@pytest.fixture
def server():
    with FakeOpenAI(models=["m"], api_key=KEY, behavior=Behavior(ttft=0.05, itl=0.005, tokens=10)) as srv:
        yield srv


def bench(server, *args, tmp_path):
    env = {"VLLM_URL": server.url, "VLLM_API_KEY": KEY, "HOME": str(tmp_path)}
    return run_cli("bench", "m", *args, env=env, cwd=tmp_path)


def test_figures_match_the_servers_timing(server, tmp_path):
    r = bench(server, "--requests", "24", "--concurrency", "4", "--input-len", "32", "--output-len", "10",
              "-o", "json", tmp_path=tmp_path)
    assert r.code == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["completed"] == 24 and report["failed"] == 0
    assert report["total_output_tokens"] == 240  # exact: from the server's usage
    assert report["total_input_tokens"] == 24 * 32  # the fake counts words: the prompt has exactly 32
    # Lower bounds are what the server guarantees (50 ms to the first token, 5 ms between tokens); no
    # upper bound is absolute, since a loaded 2-core machine stretches every figure: the figures are
    # checked against each other instead.
    ttft, itl, e2e = (report[k] for k in ("ttft_ms", "itl_ms", "e2e_ms"))
    assert ttft["p50"] >= 49 and itl["p50"] >= 4.5 and e2e["p50"] >= 94  # 50 ms + 9 gaps of 5 ms
    assert all(d["p50"] <= d["p90"] <= d["p99"] for d in (ttft, itl, e2e))
    # every request: end >= first token + its 9 gaps, so the means obey the same sum
    assert e2e["mean"] >= ttft["mean"] + 9 * itl["mean"] - 0.01
    # 4 in flight: the run lasts at least a quarter of the requests' summed latency, and (with 4
    # overlapping) well under all of it
    per_request = 1000 / e2e["mean"]
    assert 2 * per_request <= report["request_throughput"] <= 4 * per_request * 1.001
    assert report["request_throughput"] * report["duration_s"] == pytest.approx(24)
    assert report["output_throughput"] == pytest.approx(report["request_throughput"] * 10)
    bodies = [q.body for q in server.requests if q.method == "POST"][1:]  # the first is the probe
    assert len(bodies) == 24
    assert all(b["stream"] and b["ignore_eos"] and b["max_tokens"] == 10 and b["model"] == "m" for b in bodies)
    assert all(q.headers["authorization"] == f"Bearer {KEY}" for q in server.requests)
    assert KEY not in r.output


def test_random_lengths_stay_in_range_and_the_seed_reproduces_them(server, tmp_path):
    server.behavior = Behavior()  # tokens = the request's max_tokens
    args = ("--requests", "30", "-c", "8", "--input-len", "20", "--output-len", "20",
            "--random-range-ratio", "0.5", "--seed", "7", "-o", "json")
    r = bench(server, *args, tmp_path=tmp_path)
    assert r.code == 0, r.stderr
    bodies = [q.body for q in server.requests if q.method == "POST"][1:]
    outs = [b["max_tokens"] for b in bodies]
    ins = [len(b["prompt"].split()) for b in bodies]
    assert all(10 <= n <= 30 for n in outs + ins) and len(set(outs)) > 3
    assert json.loads(r.stdout)["total_output_tokens"] == sum(outs)
    from vllmctl.workflows.bench import BenchPlan, build_bodies

    plan = BenchPlan(model="m", requests=30, input_len=20, output_len=20, range_ratio=0.5, seed=7)
    def key(b):  # requests arrive in any order
        return json.dumps(b, sort_keys=True)

    assert sorted(map(key, build_bodies(plan))) == sorted(map(key, bodies))  # same seed, same requests
    assert sorted(map(key, build_bodies(BenchPlan(**{**plan.__dict__, "seed": 8})))) != sorted(map(key, bodies))


def test_rate_mode_and_text_report(server, tmp_path):
    server.behavior = Behavior(ttft=0.01, itl=0.001, tokens=3)
    r = bench(server, "--requests", "20", "--rate", "200", "--output-len", "3", tmp_path=tmp_path)
    assert r.code == 0, r.stderr
    assert "rate 200/s" in r.stdout and "completed 20, failed 0" in r.stdout
    assert "time to first token" in r.stdout and "requests/s" in r.stdout and "output tokens/s" in r.stdout
    assert "bench " not in r.stderr and "█" not in r.stderr  # no progress bar without a TTY


def test_chat_bench_times_the_first_content_not_the_role(server, tmp_path):
    r = bench(server, "--chat", "--requests", "8", "-c", "4", "-o", "json", tmp_path=tmp_path)
    assert r.code == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["total_output_tokens"] == 80 and report["ttft_ms"]["p50"] >= 48
    assert all(q.path == "/v1/chat/completions" for q in server.requests if q.method == "POST")


def test_a_broken_model_fails_before_the_run(server, tmp_path):
    server.behavior = Behavior(status=500, message="engine crashed")
    r = bench(server, "--requests", "50", tmp_path=tmp_path)
    assert r.code == 1 and "engine crashed" in r.stderr
    assert len([q for q in server.requests if q.method == "POST"]) == 1


def test_failed_requests_are_counted_and_exit_1(server, tmp_path):
    """The probe passes, then the engine starts failing: the report still comes, with the errors."""
    from vllmctl.core.settings import load_settings
    from vllmctl.workflows.bench import BenchPlan, run_bench

    seen = []

    def progress(done, total, failed):
        seen.append((done, total, failed))
        server.behavior = Behavior(status=503, message="overloaded")

    server.behavior = Behavior(tokens=2)
    report = run_bench(load_settings({}), server.url, BenchPlan(model="m", requests=10, concurrency=2),
                       api_key=KEY, progress=progress)
    assert report["failed"] == 10 and report["completed"] == 0
    assert list(report["errors"]) == ["503 overloaded"]
    assert seen[-1] == (10, 10, 10)


def test_invalid_plan_is_rejected(server, tmp_path):
    r = bench(server, "--rate", "0", tmp_path=tmp_path)
    assert r.code == 2 and "--rate" in r.stderr
