"""The stdlib engine-argument checker against the real vLLM parser's recorded verdicts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from vllmctl.core import engine_args as ea
from vllmctl.core.engine_argv import ArgToken, engine_argv

DATA = Path(__file__).parent / "data"
CASES = json.loads((DATA / "engine_cases.json").read_text())["cases"]
GOLDEN = json.loads((DATA / "engine_verdicts-0.32.0.json").read_text())
SPEC = ea.load_spec("0.32.0")


def _errors(argv):
    return ea.errors(ea.check_argv(argv, SPEC))


def test_cases_cover_the_facts_examples_and_enough_cases():
    assert len(CASES) >= 25
    facts = [c for c in CASES if c["note"] == "facts"]
    flags = " ".join(" ".join(c["argv"]) for c in facts)
    for example in ("--max-num-batched-tokns", "fp9", "bf16", "two", "--enable-auto-tool-choice", "bogus_key",
                    "1.5", "-tp 0", "--gpu_memory_utilization", "--max-num-batched-token ",
                    "--disable-log-requests", "--enable-log-requests", "--served-model-name"):
        assert example in flags + " ", example


def test_golden_verdicts_cover_every_case():
    assert GOLDEN["vllm_version"] == "0.32.0"
    assert {v["id"] for v in GOLDEN["verdicts"]} == {c["id"] for c in CASES}


@pytest.mark.parametrize("verdict", GOLDEN["verdicts"], ids=lambda v: v["id"])
def test_checker_reproduces_the_real_parser_verdict(verdict):
    problems = ea.check_argv(verdict["argv"], SPEC)
    assert ea.parser_rejects(problems) == (not verdict["ok"]), (verdict["error"], [str(p) for p in problems])


@pytest.mark.parametrize("case", CASES, ids=lambda c: c["id"])
def test_case_expectations(case):
    problems = ea.check_argv(case["argv"], SPEC)
    errors = ea.errors(problems)
    assert ea.parser_rejects(problems) == (not case["parser_ok"])
    assert (not errors) == case["engine_ok"], [str(p) for p in problems]
    if case["flag"]:
        assert errors[0].flag.split("=")[0] == case["flag"], str(errors[0])


def test_unknown_flag_suggests_the_right_one():
    (p,) = _errors(["m", "--max-num-batched-tokns", "8192"])
    assert p.code == "unknown-flag"
    assert "did you mean --max-num-batched-tokens?" in p.message
    assert p.source == ("argv", 1)


def test_removed_disable_flag_points_to_the_current_one():
    (p,) = _errors(["m", "--disable-log-requests"])
    assert "--enable-log-requests" in p.message


def test_bad_choice_lists_valid_choices():
    (p,) = _errors(["m", "--dtype", "bf16"])
    assert p.code == "bad-choice"
    assert "did you mean bfloat16?" in p.message
    assert "auto, bfloat16, float, float16, float32, half" in p.message


def test_bad_type_and_missing_value_messages():
    (p,) = _errors(["m", "-tp", "two"])
    assert p.message == "-tp expects an integer, got 'two'."
    (p,) = _errors(["m", "--max-model-len"])
    assert p.message == "--max-model-len needs a value."


def test_json_config_key_and_syntax_errors():
    (p,) = _errors(["m", "--compilation-config", '{"bogus_key":1}'])
    assert p.code == "bad-json" and "'bogus_key'" in p.message
    (p,) = _errors(["m", "--kv-transfer-config", '{"kv_conector": "X"}'])
    assert "did you mean 'kv_connector'?" in p.message
    (p,) = _errors(["m", "--compilation-config", "{mode: 3}"])
    assert "not valid JSON" in p.message
    (p,) = _errors(["m", "--compilation-config", "[" * 100_000])  # json.loads would overflow the stack
    assert p.code == "bad-json" and "too deeply" in p.message


def test_dotted_key_values_are_type_checked_like_the_json_form():
    (p,) = _errors(["m", "--compilation-config.mode", "abc"])
    assert p.code == "bad-json" and p.stage == "parser" and p.source == ("argv", 1)
    assert p.message.startswith("--compilation-config key 'mode' expects one of 0, 1, 2, 3, \"DYNAMO_TRACE_ONCE\"")
    assert p.message.endswith('got "abc".')
    (p,) = _errors(["m", "--compilation-config", '{"backend": 3}'])
    assert p.message == "--compilation-config key 'backend' expects a string, got 3."
    (p,) = _errors(["m", "--compilation-config.cudagraph_capture_sizes+", "a,b"])
    assert p.message == ("--compilation-config key 'cudagraph_capture_sizes' expects a list of integers, "
                         'got ["a", "b"].')
    (p,) = _errors(["m", "--eplb-config.window_size", "0"])
    assert p.code == "out-of-range" and p.message == "--eplb-config key 'window_size' must be greater than 0, got 0."
    (p,) = _errors(["m", "--compilation-config.compilation_time", "1"])
    assert "set by vLLM itself" in p.message
    for ok in (["-cc.mode", "VLLM_COMPILE"], ["-cc.mode", "3"], ["-cc.use_inductor_graph_partition", "off"],
               ["--profiler-config.max_iterations", "1k"], ["--kv-transfer-config.kv_port", "14579"]):
        assert _errors(["m", *ok]) == [], ok


def test_a_wrong_dotted_value_points_at_its_own_extra_args_item():
    spec = _spec(extraArgs=["--compilation-config.backend", "inductor",
                            "--compilation-config.pass_config.fuse_norm_quant", "maybe"])
    (p,) = _check_spec(spec)
    assert p.yaml_path == ("vllmConfig", "extraArgs", 2) and p.flag == "--compilation-config"
    assert p.message == ("--compilation-config key pass_config.'fuse_norm_quant' expects true or false or null, "
                         'got "maybe".')


def test_multi_port_external_lb_rules_name_both_flags():
    mp = "--data-parallel-multi-port-external-lb"
    assert [p.message for p in _errors(["m", mp])] == [
        f"{mp} requires --data-parallel-size of at least 2 (not given: the default is 1).",
        f"{mp} requires --data-parallel-size-local of at least 2 (not given)."]
    (p,) = _errors(["m", mp, "-dp", "4", "-dpl", "3"])
    assert p.message == f"{mp} requires --data-parallel-size (4) to be a multiple of --data-parallel-size-local (3)."
    (p,) = _errors(["m", "-dpm", "-dp", "4", "-dpl", "2", "-dpn", "0"])
    assert p.message == "-dpm cannot be combined with -dpn." and p.stage == "parser" and p.source == ("argv", 1)
    (p,) = _errors(["m", mp, "-dp", "4", "-dpl", "2", "--api-server-count", "2"])
    assert p.message == f"{mp} cannot be combined with --api-server-count 2; it allows --api-server-count 1 only."
    assert _errors(["m", mp, "-dp", "4", "-dpl", "2", "--api-server-count", "1", "--ssl-keyfile", "/k",
                    "--ssl-certfile", "/c"]) == []
    (p,) = _errors(["m", mp, "-dp", "2", "-dpl", "2", "--ssl-keyfile", "/k"])
    assert p.message == "--ssl-keyfile requires --ssl-certfile."
    assert _errors(["m", "--ssl-keyfile", "/k"]) == []  # vLLM pairs them up front only for multi-port


def test_multi_port_in_extra_args_is_refused_at_its_item():
    (p,) = _check_spec(_spec(extraArgs=["--data-parallel-size", "2", "--data-parallel-multi-port-external-lb"]))
    assert p.yaml_path == ("vllmConfig", "extraArgs", 2) and "--data-parallel-size-local" in p.message


def test_ranges_are_engine_stage_errors():
    (p,) = _errors(["m", "--gpu-memory-utilization", "1.5"])
    assert p.stage == "engine" and p.code == "out-of-range"
    assert "greater than 0 and at most 1" in p.message
    (p,) = _errors(["m", "-tp", "0"])
    assert "at least 1" in p.message


def test_abbreviation_is_accepted_with_a_warning():
    problems = ea.check_argv(["m", "--max-num-batched-token", "8192"], SPEC)
    assert not ea.errors(problems)
    assert [p.code for p in problems] == ["abbreviation"]


def test_every_error_is_one_sentence_naming_model_and_place():
    for case in CASES:
        for p in ea.check_argv(case["argv"], SPEC, model_name="qwen"):
            text = str(p)
            assert text.startswith("model 'qwen', argv["), text
            assert "\n" not in text and p.message.endswith((".", "?")), text


def test_spec_for_tag_exact_latest_and_unknown():
    spec, warning = ea.spec_for_tag("v0.32.0")
    assert spec.version == "0.32.0" and warning is None
    spec, warning = ea.spec_for_tag("latest")
    assert spec.version == "0.32.0" and "'latest'" in warning and "0.32.0" in warning
    spec, warning = ea.spec_for_tag("v0.33.1")
    assert spec.version == "0.32.0" and "nearest" in warning
    spec, warning = ea.spec_for_tag("v0.1.0")
    assert spec.version == ea.available_versions()[0] and warning


# ---------------------------------------------------------------- argv built from a modelSpec


def _spec(**vllm_config):
    return {
        "name": "qwen",
        "modelURL": "Qwen/Qwen2.5-0.5B-Instruct",
        "vllmConfig": {"maxModelLen": 4096, **vllm_config},
    }


def _check_spec(model_spec):
    return ea.check("qwen", engine_argv(model_spec, "0.1.12"), SPEC)


def test_rendered_defaults_are_clean():
    spec = _spec(extraArgs=["--served-model-name", "qwen"], gpuMemoryUtilization=0.9, tensorParallelSize=1)
    assert _check_spec(spec) == []


def test_extra_arg_contradicting_a_models_yaml_field():
    spec = _spec(extraArgs=["--served-model-name", "qwen", "--max-model-len", "8192"])
    (p,) = _check_spec(spec)
    assert p.code == "conflict" and p.flag == "--max-model-len"
    assert p.source == ("vllmConfig", "extraArgs", 2) and p.user_index == 0
    assert p.yaml_path == ("vllmConfig", "extraArgs", 0) and p.yaml_where == "vllmConfig.extraArgs[0]"
    assert p.as_dict()["yaml_path"] == ["vllmConfig", "extraArgs", 0]
    assert "vllmConfig.maxModelLen" in p.message


def test_extra_arg_repeating_a_field_is_a_warning():
    (p,) = _check_spec(_spec(extraArgs=["--max_model_len=4096"]))
    assert p.severity == ea.WARNING and p.code == "duplicate"


def test_user_served_model_name_is_flagged():
    spec = _spec(extraArgs=["--served-model-name", "qwen", "--served-model-name", "other"])
    (p,) = _check_spec(spec)
    assert p.flag == "--served-model-name" and p.user_index == 0
    assert "router" in p.message


def test_enable_prefix_caching_in_extra_args_contradicts_the_chart_default():
    (p,) = _check_spec(_spec(extraArgs=["--enable-prefix-caching"]))
    assert p.code == "conflict" and "vllmConfig.enablePrefixCaching" in p.message


def test_port_override_is_flagged():
    (p,) = _check_spec(_spec(extraArgs=["--port", "9000"]))
    assert p.code == "conflict" and "probes" in p.message


def test_enable_tool_without_parser_points_at_the_field():
    spec = {"name": "qwen", "modelURL": "Qwen/Qwen2.5-0.5B-Instruct", "enableTool": True}
    (p,) = ea.check("qwen", engine_argv(spec, "0.1.12"), SPEC)
    assert p.source == ("enableTool",) and "toolCallParser" in p.message
    assert p.yaml_path == ("toolCallParser",)


def test_helm_scientific_notation_is_caught():
    (p,) = _check_spec(_spec(maxModelLen=1000000))
    assert p.source == ("vllmConfig", "maxModelLen") and "1e+06" in p.message
    assert p.yaml_path == ("vllmConfig", "maxModelLen")


def test_unknown_tool_call_parser_is_an_engine_stage_error():
    spec = {"name": "qwen", "modelURL": "Qwen/Qwen2.5-0.5B-Instruct", "enableTool": True, "toolCallParser": "hermess"}
    (p,) = ea.check("qwen", engine_argv(spec, "0.1.12"), SPEC)
    assert p.stage == "engine" and "did you mean hermes?" in p.message and p.yaml_path == ("toolCallParser",)


def test_explicit_rendered_indices():
    tokens = engine_argv(_spec(extraArgs=["--enforce-eager", "--served-model-name", "qwen"]), "0.1.12",
                         rendered_extra_args={1, 2})
    origins = [t.origin for t in tokens if t.source[:2] == ("vllmConfig", "extraArgs")]
    assert origins == ["user", "rendering", "rendering"]
    assert ea.check("qwen", tokens, SPEC) == []


def test_tokens_can_be_built_by_hand():
    tokens = [ArgToken("m", ("modelURL",), ea.VALUES), ArgToken("--dtype", ("x",), ea.USER, 0),
              ArgToken("half", ("x",), ea.USER, 1)]
    assert ea.check("m", tokens, SPEC) == []


def test_checker_imports_no_heavy_modules():
    code = (
        "import sys, time; t = time.perf_counter();"
        "from vllmctl.core import engine_args as ea;"
        "spec, _ = ea.spec_for_tag('v0.32.0'); ea.check_argv(['m', '--dtype', 'bf16'], spec);"
        "heavy = [m for m in ('vllm', 'pydantic', 'jinja2', 'typer', 'rich', 'httpx', 'torch') if m in sys.modules];"
        "print(heavy, time.perf_counter() - t)"
    )
    cli = str(Path(__file__).resolve().parents[2] / "cli")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": cli, "PATH": "/usr/bin:/bin"}).stdout
    heavy, seconds = out.rsplit("]", 1)
    assert heavy.strip() == "[", out
    assert float(seconds) < 0.5


def test_flag_and_value_in_one_item_gets_a_hint():
    (p,) = _check_spec(_spec(extraArgs=["--enforce-eager", "--max-num-seqs 64"]))
    assert p.flag == "--max-num-seqs" and "two extraArgs items" in p.message and p.user_index == 1


def test_check_model_spec_follows_the_image_tag():
    problems, warning = ea.check_model_spec({**_spec(), "tag": "v0.32.0"}, "0.1.12")
    assert problems == [] and warning is None
    problems, warning = ea.check_model_spec({**_spec(extraArgs=["--dtype", "bf16"]), "tag": "latest"}, "0.1.12")
    assert "'latest'" in warning and [p.code for p in problems] == ["bad-choice"]
