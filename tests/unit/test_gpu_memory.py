"""Closed-form parameter counts and per-GPU memory estimates."""

from __future__ import annotations

import pytest

from vllmctl.core import gpu_memory as gm

GiB = gm.GiB

LLAMA_31_8B = {
    "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 4096,
    "intermediate_size": 14336, "num_attention_heads": 32, "num_hidden_layers": 32,
    "num_key_value_heads": 8, "vocab_size": 128256, "max_position_embeddings": 131072,
    "tie_word_embeddings": False, "torch_dtype": "bfloat16", "hidden_act": "silu",
}
LLAMA_31_70B = {**LLAMA_31_8B, "hidden_size": 8192, "intermediate_size": 28672, "num_attention_heads": 64,
                "num_hidden_layers": 80}
QWEN25_05B = {
    "architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "hidden_size": 896,
    "intermediate_size": 4864, "num_attention_heads": 14, "num_hidden_layers": 24, "num_key_value_heads": 2,
    "vocab_size": 151936, "max_position_embeddings": 32768, "tie_word_embeddings": True,
    "torch_dtype": "bfloat16", "hidden_act": "silu",
}


@pytest.mark.parametrize(
    ("config", "params"),
    # Exact counts from building each model on torch's meta device (reference/vllm-engine-args.md).
    [(QWEN25_05B, 494_032_768), (LLAMA_31_8B, 8_030_261_248), (LLAMA_31_70B, 70_553_706_496)],
)
def test_dense_parameter_counts_are_exact(config, params):
    count, exact = gm.param_count(config)
    assert exact and count == params


def test_llama_8b_weights_and_kv_per_token():
    est = gm.estimate(LLAMA_31_8B, max_model_len=8192)
    assert est.weight_dtype == "bfloat16"
    assert est.weight_bytes / GiB == pytest.approx(14.96, abs=0.01)  # "15.0 GiB"
    assert est.kv_bytes_per_token_per_gpu == 128 * 1024  # 128 KiB/token
    assert est.kv_bytes_per_gpu == 8192 * 128 * 1024


def test_tensor_parallel_splits_weights_and_kv_heads():
    one = gm.estimate(LLAMA_31_8B, max_model_len=4096)
    four = gm.estimate(LLAMA_31_8B, max_model_len=4096, tensor_parallel_size=4)
    assert four.weight_bytes_per_gpu == one.weight_bytes // 4
    assert four.kv_bytes_per_token_per_gpu == one.kv_bytes_per_token_per_gpu // 4
    # more GPUs than KV heads: every GPU still holds one head
    sixteen = gm.estimate(LLAMA_31_8B, max_model_len=4096, tensor_parallel_size=16)
    assert sixteen.kv_bytes_per_token_per_gpu == one.kv_bytes_per_token_per_gpu // 8


def test_dtype_and_kv_cache_dtype():
    est = gm.estimate(LLAMA_31_8B, dtype="float32", kv_cache_dtype="fp8", max_model_len=1024)
    assert est.weight_bytes == 8_030_261_248 * 4
    assert est.kv_bytes_per_token_per_gpu == 64 * 1024
    assert gm.estimate({**LLAMA_31_8B, "torch_dtype": "float32"}).weight_dtype == "bfloat16"


def test_default_max_model_len_is_the_models_limit():
    assert gm.estimate(QWEN25_05B).max_model_len == 32768


def test_moe_and_quantized_are_not_exact():
    moe = {**LLAMA_31_8B, "num_local_experts": 8, "intermediate_size": 14336}
    count, exact = gm.param_count(moe)
    assert not exact and count > 8 * 3 * 4096 * 14336 * 32
    awq = {**LLAMA_31_8B, "quantization_config": {"quant_method": "awq", "bits": 4}}
    est = gm.estimate(awq)
    # 4-bit projection matrices (6,979,321,856 of them); embeddings, LM head and norms stay 16-bit
    assert not est.exact and est.weight_bytes == 6_979_321_856 // 2 + (8_030_261_248 - 6_979_321_856) * 2


def test_multimodal_text_config():
    mm = {"architectures": ["X"], "model_type": "llava", "text_config": LLAMA_31_8B}
    assert gm.param_count(mm)[0] == 8_030_261_248


def test_fit_verdicts():
    assert gm.fit(gm.estimate(LLAMA_31_70B, max_model_len=8192, tensor_parallel_size=2), 80 * GiB).fits
    est = gm.estimate(LLAMA_31_70B, max_model_len=131072, tensor_parallel_size=2)
    no = gm.fit(est, 80 * GiB, 0.9)
    assert not no.fits and "raise tensorParallelSize" in no.message
    yes = gm.fit(gm.estimate(LLAMA_31_70B, max_model_len=8192, tensor_parallel_size=4), 80 * GiB)
    assert yes.fits and yes.gpu_memory_utilization == 0.9
    assert gm.fit(gm.estimate(LLAMA_31_8B, max_model_len=131072), 24 * GiB, 0.9).fits is False


def test_parse_memory_and_node_labels():
    assert gm.parse_memory("81920") == 80 * GiB  # GPU feature discovery writes MiB
    assert gm.parse_memory("80Gi") == 80 * GiB
    assert gm.parse_memory("80GB") == 80 * 10**9
    assert gm.parse_memory(24576) == 24 * GiB
    with pytest.raises(ValueError, match="80Gi"):
        gm.parse_memory("lots")
    assert gm.gpu_memory_from_labels({"nvidia.com/gpu.memory": "40960"}) == 40 * GiB
    assert gm.gpu_memory_from_labels({}) is None
    nodes = [{"nvidia.com/gpu.memory": "81920"}, {"nvidia.com/gpu.memory": "40960"}, {}]
    assert gm.gpu_memory_per_gpu(nodes) == 40 * GiB
    assert gm.gpu_memory_per_gpu([{}], "24Gi") == 24 * GiB
    assert gm.gpu_memory_per_gpu([], None) is None
