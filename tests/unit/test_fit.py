"""Each fit check refuses just past its boundary and passes at it; suggestions make a model fit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vllmctl.core import fit, gpu_pools
from vllmctl.core import model_facts as mf
from vllmctl.core.gpu_memory import DEFAULT_OVERHEAD_BYTES, GiB, MiB

MODELS = {m["repo"]: m for m in json.loads(
    (Path(__file__).parent / "data" / "model_facts" / "models.json").read_text())["models"]}


def facts(repo: str, *, files: dict | None = None) -> mf.ModelFacts:
    m = MODELS[repo]
    return mf.ModelFacts(repo, "main", sha="1" * 40, config=m["config"], safetensors=m["safetensors"],
                         files=files or {}, source="cache")


LLAMA8 = "meta-llama/Llama-3.1-8B-Instruct"
QWEN05 = "Qwen/Qwen2.5-0.5B-Instruct"
WEIGHTS8 = 16_060_522_496
KV8 = 131_072


def rules(report, severity=None):
    return [f.rule for f in report.findings if severity is None or f.severity == severity]


def test_pvc_boundaries():
    shards = {"model-00001-of-00002.safetensors": 10 * GiB, "model-00002-of-00002.safetensors": 5 * GiB,
              "config.json": 1000, "tokenizer.json": 9000, "original/consolidated.00.pth": 15 * GiB}
    f = facts(LLAMA8, files=shards)
    download = mf.download_bytes(f)
    assert download == mf.Figure(15 * GiB + 10000, mf.EXACT)  # one weight format, top-level files only
    need = fit.pvc_required(download.value)
    assert need == download.value + int(download.value * 0.10)

    def pvc(n):
        return fit.assess(fit.FitInput("m", LLAMA8, pvc_bytes=n), f)

    assert rules(pvc(need - 1), "error") == ["pvc-size"]
    assert "at least 17Gi" in pvc(need - 1).findings[0].message
    assert rules(pvc(need), "warning") == ["pvc-size"]  # enough, but close
    assert rules(pvc(int(need * 1.1) + 1)) == []
    assert rules(pvc(None)) == []  # no cache volume: nothing to check


def test_pvc_headroom_is_at_least_one_gib():
    assert fit.pvc_required(2 * GiB) == 3 * GiB


def test_gpu_memory_boundary_and_figures():
    f = facts(LLAMA8)
    need = WEIGHTS8 + KV8 * 8192 + DEFAULT_OVERHEAD_BYTES
    inp = fit.FitInput("m", LLAMA8, max_model_len=8192, gpu_memory_utilization=1.0)
    at = fit.assess(inp, f, gpu_memory_bytes=need)
    assert at.fits is True and at.bytes_per_gpu == need and rules(at) == []
    assert at.max_kv_tokens == 8192 and at.concurrent_sequences == 1 and at.max_fitting_model_len == 8192
    below = fit.assess(inp, f, gpu_memory_bytes=need - 1)
    assert below.fits is False and rules(below, "error") == ["gpu-memory"]
    assert below.max_kv_tokens == 8191


def test_gpu_memory_utilization_is_the_budget():
    f = facts(LLAMA8)
    report = fit.assess(fit.FitInput("m", LLAMA8, max_model_len=8192, gpu_memory_utilization=0.5), f,
                        gpu_memory_bytes=80 * GiB)
    budget = int(80 * GiB * 0.5)
    assert report.max_kv_tokens == (budget - WEIGHTS8 - DEFAULT_OVERHEAD_BYTES) // KV8
    assert report.concurrent_sequences == report.max_kv_tokens // 8192


def test_max_model_len_boundary():
    f = facts(QWEN05)
    assert rules(fit.assess(fit.FitInput("m", QWEN05, max_model_len=32768), f)) == []
    over = fit.assess(fit.FitInput("m", QWEN05, max_model_len=32769), f)
    assert rules(over, "error") == ["max-model-len"] and "at most 32768" in over.findings[0].message


@pytest.mark.parametrize(("repo", "tp", "ok"), [
    (LLAMA8, 8, True), (LLAMA8, 16, True), (LLAMA8, 3, False),  # 32 heads, 8 KV heads
    (QWEN05, 2, True), (QWEN05, 7, False), (QWEN05, 4, False),  # 14 heads, 2 KV heads
])
def test_tensor_parallel_must_divide_the_heads(repo, tp, ok):
    report = fit.assess(fit.FitInput("m", repo, gpus=tp, tensor_parallel=tp), facts(repo))
    assert ("tp-heads" not in rules(report)) is ok


def test_tensor_parallel_splits_weights_and_kv():
    one = fit.assess(fit.FitInput("m", LLAMA8, max_model_len=4096), facts(LLAMA8), gpu_memory_bytes=80 * GiB)
    two = fit.assess(fit.FitInput("m", LLAMA8, gpus=2, tensor_parallel=2, max_model_len=4096), facts(LLAMA8),
                     gpu_memory_bytes=80 * GiB)
    assert two.kv_bytes_per_token.value == KV8 // 2
    assert two.bytes_per_gpu == WEIGHTS8 // 2 + KV8 // 2 * 4096 + DEFAULT_OVERHEAD_BYTES
    assert two.max_kv_tokens > 2 * one.max_kv_tokens


def test_startup_boundary():
    f = facts(LLAMA8, files={"model.safetensors": WEIGHTS8})
    est = fit.startup_estimate(WEIGHTS8, WEIGHTS8, 100e6)
    assert est.download_seconds == pytest.approx(160.6, abs=0.1) and est.init_seconds == fit.ENGINE_INIT_SECONDS
    budget = int(est.seconds)
    over = fit.assess(fit.FitInput("m", LLAMA8), f, bandwidth_bytes_per_second=100e6, startup_budget=budget)
    assert rules(over) == ["startup"]
    at = fit.assess(fit.FitInput("m", LLAMA8), f, bandwidth_bytes_per_second=100e6, startup_budget=budget + 1)
    assert rules(at) == []
    assert fit.startup_budget_seconds() == 615  # the chart's probe: 15 s + 60 x 10 s
    assert fit.startup_estimate(WEIGHTS8, WEIGHTS8, 100e6, cached=True).download_seconds == 0


def test_suggestions_make_a_failing_model_fit():
    l4 = {"nvidia.com/gpu.product": "NVIDIA-L4", "cloud.google.com/gke-nodepool": "l4", "nvidia.com/gpu.count": "1"}
    h100 = {"nvidia.com/gpu.memory": "81559", "cloud.google.com/gke-nodepool": "h100", "nvidia.com/gpu.count": "8"}
    pools = gpu_pools.pools([l4, h100, l4])
    assert [(p.name, p.nodes) for p in pools] == [("l4", 2), ("h100", 1)]
    f = facts(LLAMA8)
    report = fit.assess(fit.FitInput("m", LLAMA8), f, gpu_memory_bytes=pools[0].memory_bytes, pools=pools)
    assert report.fits is False and report.max_model_len == 131072
    by_kind = {s.kind: s for s in report.suggestions}
    assert by_kind["tensor-parallel"].change == {"requestGPU": 2, "vllmConfig": {"tensorParallelSize": 2}}
    assert by_kind["node-pool"].change == {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": "cloud.google.com/gke-nodepool", "operator": "In", "values": ["h100"]}]}]}
    longest = by_kind["max-model-len"].change["vllmConfig"]["maxModelLen"]
    assert "gpu-memory-utilization" not in by_kind  # would need more than 95 %
    # each suggestion, applied, fits
    gpu = pools[0].memory_bytes
    assert fit.assess(fit.FitInput("m", LLAMA8, gpus=2, tensor_parallel=2), f, gpu_memory_bytes=gpu).fits
    assert fit.assess(fit.FitInput("m", LLAMA8, max_model_len=longest), f, gpu_memory_bytes=gpu).fits
    assert not fit.assess(fit.FitInput("m", LLAMA8, max_model_len=longest + 256), f, gpu_memory_bytes=gpu).fits
    assert fit.assess(fit.FitInput("m", LLAMA8), f, gpu_memory_bytes=pools[1].memory_bytes).fits


def test_utilization_suggestion():
    f = facts(LLAMA8)
    inp = fit.FitInput("m", LLAMA8, max_model_len=16384, gpu_memory_utilization=0.7)
    report = fit.assess(inp, f, gpu_memory_bytes=24 * GiB)
    wanted = {s.kind: s for s in report.suggestions}["gpu-memory-utilization"].change["vllmConfig"]
    fixed = fit.FitInput("m", LLAMA8, max_model_len=16384, gpu_memory_utilization=wanted["gpuMemoryUtilization"])
    assert wanted == {"gpuMemoryUtilization": 0.75}
    assert not report.fits and fit.assess(fixed, f, gpu_memory_bytes=24 * GiB).fits


def test_unknown_facts_are_said_never_guessed():
    nothing = mf.unknown(LLAMA8, "main", "offline and nothing cached")
    report = fit.assess(fit.FitInput("m", LLAMA8, pvc_bytes=GiB), nothing, gpu_memory_bytes=80 * GiB)
    assert report.fits is None and report.weight_bytes == mf.NOT_KNOWN and report.parameters.basis == "unknown"
    assert rules(report) == ["facts-unknown"] and "offline and nothing cached" in report.findings[0].message


def test_gpu_memory_from_labels_and_node_selector():
    nodes = [{"nvidia.com/gpu.product": "NVIDIA-A100-SXM4-40GB", "pool": "a"},
             {"nvidia.com/gpu.memory": "81920", "pool": "b"}, {"kubernetes.io/os": "linux"}]
    assert gpu_pools.smallest_gpu(nodes) == 40 * GiB
    only_b = gpu_pools.selected(nodes, [{"matchExpressions": [{"key": "pool", "operator": "In", "values": ["b"]}]}])
    assert gpu_pools.smallest_gpu(only_b) == 81920 * MiB
    assert gpu_pools.product_memory("Tesla-T4") == 15360 * MiB and gpu_pools.product_memory("weird") is None


def test_quantized_and_fp8_kv_cache():
    fp8 = mf.ModelFacts("x/y", "main", config=MODELS["neuralmagic/Meta-Llama-3-8B-Instruct-FP8"]["config"])
    assert mf.parameters(fp8).basis == mf.ESTIMATED  # a quantized checkpoint's counts are not parameters
    assert mf.kv_bytes_per_token(facts(LLAMA8), kv_cache_dtype="fp8").value == KV8 // 2
    awq = {**MODELS[LLAMA8]["config"], "quantization_config": {"quant_method": "awq", "bits": 4, "group_size": 128}}
    w = mf.weight_bytes(mf.ModelFacts("x/y", "main", config=awq)).value
    linear = 6_979_321_856
    assert w == int(linear * (4 + 20 / 128) / 8) + (8_030_261_248 - linear) * 2
