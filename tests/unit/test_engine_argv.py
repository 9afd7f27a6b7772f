"""The argv the vllm-stack chart builds from a rendered modelSpec, with provenance."""

from __future__ import annotations

import pytest

from vllmctl.core.engine_argv import (
    CHART,
    RENDERING,
    USER,
    VALUES,
    argv_strings,
    describe_source,
    engine_argv,
    go_string,
)

BASE = ["org/model", "--host", "0.0.0.0", "--port", "8000"]


def test_minimal_spec_without_vllm_config():
    assert argv_strings(engine_argv({"name": "m", "modelURL": "org/model"}, "0.1.12")) == BASE


def test_empty_vllm_config_is_skipped_like_helm_with():
    assert argv_strings(engine_argv({"modelURL": "org/model", "vllmConfig": {}}, "0.1.12")) == BASE


def test_full_order_as_the_chart_builds_it():
    spec = {
        "name": "llama3",
        "modelURL": "org/model",
        "enableLoRA": True,
        "enableTool": True,
        "toolCallParser": "llama3_json",
        "chatTemplate": "tool_chat.jinja",
        "lmcacheConfig": {"enabled": True},
        "vllmConfig": {
            "enableChunkedPrefill": False,
            "enablePrefixCaching": True,
            "maxModelLen": 4096,
            "dtype": "bfloat16",
            "tensorParallelSize": 2,
            "maxNumSeqs": 32,
            "gpuMemoryUtilization": 0.9,
            "maxLoras": 4,
            "extraArgs": ["--served-model-name", "llama3", "--enforce-eager"],
        },
    }
    assert argv_strings(engine_argv(spec, "0.1.12")) == BASE + [
        "--enable-lora", "--enable-auto-tool-choice", "--tool-call-parser", "llama3_json",
        "--no-enable-chunked-prefill", "--enable-prefix-caching",
        "--max-model-len", "4096", "--dtype", "bfloat16", "--tensor-parallel-size", "2",
        "--max-num-seqs", "32", "--gpu_memory_utilization", "0.9", "--max_loras", "4",
        "--served-model-name", "llama3", "--enforce-eager",
        "--kv-transfer-config", '{"kv_connector":"LMCacheConnectorV1","kv_role":"kv_both"}',
        "--chat-template", "/templates/tool_chat.jinja",
    ]


def test_absent_prefix_caching_turns_it_off():
    tokens = engine_argv({"modelURL": "m", "vllmConfig": {"maxModelLen": 1024}}, "0.1.8")
    off = next(t for t in tokens if t.value == "--no-enable-prefix-caching")
    assert off.source == ("vllmConfig", "enablePrefixCaching") and off.origin == VALUES


def test_provenance_of_each_token():
    spec = {"name": "m", "modelURL": "org/model", "enableTool": True,
            "vllmConfig": {"maxModelLen": 2048, "extraArgs": ["--served-model-name", "m", "--seed", "1"]}}
    tokens = engine_argv(spec, "0.1.12")
    by_value = {t.value: t for t in tokens}
    assert by_value["org/model"].source == ("modelURL",)
    assert by_value["--port"].origin == CHART
    assert by_value["--enable-auto-tool-choice"].source == ("enableTool",)
    assert by_value["2048"].source == ("vllmConfig", "maxModelLen")
    assert by_value["--served-model-name"].origin == RENDERING
    assert by_value["--seed"].origin == USER and by_value["--seed"].user_index == 0
    assert by_value["1"].source == ("vllmConfig", "extraArgs", 3) and by_value["1"].user_index == 1
    assert by_value["1"].where() == "vllmConfig.extraArgs[3]"


def test_served_name_not_matching_the_model_name_is_user_written():
    spec = {"name": "m", "modelURL": "x", "vllmConfig": {"extraArgs": ["--served-model-name", "other"]}}
    assert {t.origin for t in engine_argv(spec, "0.1.12") if len(t.source) == 3} == {USER}


def test_explicit_rendered_indices_override_detection():
    spec = {"name": "m", "modelURL": "x", "vllmConfig": {"extraArgs": ["--served-model-name", "m"]}}
    assert {t.origin for t in engine_argv(spec, "0.1.12", rendered_extra_args=()) if len(t.source) == 3} == {USER}


def test_container_port_and_runner_keys_by_chart_version():
    spec = {"modelURL": "x", "vllmConfig": {"runner": "pooling", "enablePrefixCaching": True}}
    assert "--runner" not in argv_strings(engine_argv(spec, "0.1.8"))
    new = argv_strings(engine_argv(spec, "0.1.9", container_port=8080))
    assert new[new.index("--runner") + 1] == "pooling" and "8080" in new


def test_lmcache_variants():
    v0 = {"modelURL": "x", "lmcacheConfig": {"enabled": True, "kvRole": "kv_producer"}, "vllmConfig": {"v0": 1}}
    assert argv_strings(engine_argv(v0, "0.1.12"))[-1] == '{"kv_connector":"LMCacheConnector","kv_role":"kv_producer"}'
    pd = {"modelURL": "x", "lmcacheConfig": {"enabled": True, "enablePD": True, "nixlRole": "sender"}}
    assert '"lmcache_rpc_port": "sender"' in argv_strings(engine_argv(pd, "0.1.12"))[-1]
    off = {"modelURL": "x", "lmcacheConfig": {"enabled": False}}
    assert "--kv-transfer-config" not in argv_strings(engine_argv(off, "0.1.12"))


@pytest.mark.parametrize(
    ("value", "text"),
    [(4096, "4096"), (131072, "131072"), (999999, "999999"), (1000000, "1e+06"), (1048576, "1.048576e+06"),
     (0.9, "0.9"), (1.0, "1"), (0.0001, "0.0001"), (0.00001, "1e-05"), (True, "true"), ("auto", "auto"),
     (-2, "-2"), (0, "0")],
)
def test_values_print_as_helm_quotes_them(value, text):
    assert go_string(value) == text


def test_describe_source():
    assert describe_source(("vllmConfig", "extraArgs", 3)) == "vllmConfig.extraArgs[3]"
    assert describe_source(()) == "chart"
