"""models.yaml schema: every bad input gets its own message at its own file:line:column."""

from __future__ import annotations

import pytest

from vllmctl.core.models_file import InvalidModels
from vllmctl.core.settings import Settings
from vllmctl.workflows.models import validate_text

HEAD = "- name: m1\n  modelURL: Qwen/Qwen2.5-0.5B-Instruct\n"


def model(*lines: str, head: str = HEAD) -> str:
    return head + "".join(f"  {line}\n" for line in lines)


# (id, models.yaml text, line, column, expected message fragment)
CASES = [
    ("missing-name", "- modelURL: Qwen/Qwen2.5-0.5B-Instruct\n", 1, 3, "missing required key 'name'"),
    ("missing-url", "- name: m1\n", 1, 3, "missing required key 'modelURL'"),
    ("name-uppercase", "- name: Llama3\n  modelURL: a/b\n", 1, 9, "'Llama3' is not a valid model name"),
    ("name-underscore", "- name: my_model\n  modelURL: a/b\n", 1, 9, "not a valid model name"),
    ("name-leading-digit", "- name: 3llama\n  modelURL: a/b\n", 1, 9, "starting with a letter"),
    ("name-trailing-dash", "- name: llama-\n  modelURL: a/b\n", 1, 9, "ending with a letter or digit"),
    ("name-number", "- name: 42\n  modelURL: a/b\n", 1, 9, "'name' must be a string, got 42"),
    ("name-too-long", f"- name: {'a' * 44}\n  modelURL: a/b\n", 1, 9, "use at most 43"),
    ("url-no-org", "- name: m1\n  modelURL: llama\n", 2, 13, "not a Hugging Face model id of the form org/name"),
    ("url-https", "- name: m1\n  modelURL: https://huggingface.co/a/b\n", 2, 13, "org/name"),
    ("url-three-parts", "- name: m1\n  modelURL: a/b/c\n", 2, 13, "org/name"),
    ("unknown-key", model("replicas: 2"), 3, 3, "unknown key 'replicas'; did you mean 'replicaCount'?"),
    ("unknown-key-case", model("requestgpu: 1"), 3, 3, "did you mean 'requestGPU'?"),
    (
        "unknown-vllm-key",
        model("vllmConfig:", "  maxModelLength: 4096"),
        4,
        5,
        "unknown key 'maxModelLength'; did you mean 'maxModelLen'?",
    ),
    ("unknown-key-no-guess", model("zzz: 1"), 3, 3, "unknown key 'zzz'"),
    ("cpu-string", model('requestCPU: "6"'), 3, 15, "'requestCPU' must be a whole number, got '6'; remove the quotes"),
    ("cpu-millicores", model("requestCPU: 500m"), 3, 15, "'requestCPU' must be a whole number, got '500m'"),
    ("cpu-float", model("requestCPU: 1.5"), 3, 15, "'requestCPU' must be a whole number, got 1.5"),
    ("cpu-zero", model("requestCPU: 0"), 3, 15, "'requestCPU' must be at least 1, got 0"),
    ("gpu-negative", model("requestGPU: -1"), 3, 15, "'requestGPU' must be at least 0, got -1"),
    ("gpu-word", model("requestGPU: two"), 3, 15, "'requestGPU' must be a whole number, got 'two'"),
    ("gpu-bool", model("requestGPU: true"), 3, 15, "'requestGPU' must be a whole number, got True"),
    ("replicas-word", model("replicaCount: one"), 3, 17, "'replicaCount' must be a whole number, got 'one'"),
    ("replicas-negative", model("replicaCount: -2"), 3, 17, "must be at least 0"),
    ("memory-lowercase-unit", model("requestMemory: 16gi"), 3, 18, "unknown unit 'gi'; did you mean 16Gi?"),
    ("memory-gb", model("requestMemory: 16GB"), 3, 18, "did you mean 16G?"),
    ("memory-no-unit", model("requestMemory: 16"), 3, 18, "is only 16 bytes; add a unit"),
    ("memory-garbage", model("requestMemory: lots"), 3, 18, "is not a Kubernetes quantity"),
    ("storage-bad", model("pvcStorage: 50 Gi"), 3, 15, "is not a Kubernetes quantity"),
    (
        "limit-below-request",
        model("requestMemory: 16Gi", "limitMemory: 8Gi"),
        4,
        16,
        "limitMemory 8Gi is below requestMemory 16Gi",
    ),
    ("shm-bad", model("shmSize: big"), 3, 12, "'shmSize'"),
    (
        "tp-above-gpus",
        model("requestGPU: 1", "vllmConfig:", "  tensorParallelSize: 2"),
        5,
        25,
        "tensor parallelism 2 needs 2 GPUs but requestGPU is 1",
    ),
    # Parallelism in extraArgs counts in every spelling vLLM accepts, and points at the flag.
    ("tp-short-flag", model("requestGPU: 1", "vllmConfig:", "  extraArgs: [-tp, '2']"), 5, 17,
     "tensor parallelism 2 needs 2 GPUs but requestGPU is 1"),
    ("tp-underscore-equals", model("requestGPU: 1", "vllmConfig:", "  extraArgs: [--tensor_parallel_size=4]"),
     5, 17, "tensor parallelism 4 needs 4 GPUs"),
    ("tp-without-gpus", model("requestGPU: 0", "vllmConfig:", "  tensorParallelSize: 2"), 5, 25,
     "tensor parallelism 2 needs 2 GPUs but requestGPU is 0"),
    ("pp-times-tp", model("requestGPU: 2", "vllmConfig:", "  tensorParallelSize: 2", "  extraArgs: [-pp, '2']"),
     5, 25, "tensor x pipeline parallelism 2 x 2 needs 4 GPUs but requestGPU is 2"),
    ("pp-alone", model("requestGPU: 1", "vllmConfig:", "  extraArgs: [--pipeline-parallel-size, '2']"), 5, 17,
     "tensor x pipeline parallelism 1 x 2 needs 2 GPUs"),
    ("api-key-flag", model("vllmConfig:", "  extraArgs: [--api-key, sk-live-123]"), 4, 17,
     "--api-key would put the API key into the pod spec"),
    ("hf-token-flag", model("vllmConfig:", "  extraArgs: ['--hf-token=hf_x']"), 4, 17, "`vllmctl set-hf-token`"),
    ("secret-in-other-arg", model("vllmConfig:", "  extraArgs: ['--x=sk-AbCdEfGhIjKlMnOpQrSt0123']"), 4, 17,
     "extraArgs[0] holds what looks like a token or key"),
    ("secret-in-env", model("env:", "  MY_TOKEN: hf_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"), 4, 15,
     "env MY_TOKEN holds what looks like a token or key"),
    ("tp-zero", model("vllmConfig:", "  tensorParallelSize: 0"), 4, 25, "must be at least 1, got 0"),
    (
        "gmu-above-one",
        model("vllmConfig:", "  gpuMemoryUtilization: 1.5"),
        4,
        27,
        "must be greater than 0 and at most 1",
    ),
    ("gmu-zero", model("vllmConfig:", "  gpuMemoryUtilization: 0"), 4, 27, "greater than 0"),
    ("gmu-percent", model("vllmConfig:", '  gpuMemoryUtilization: "90%"'), 4, 27, "must be a number in (0, 1]"),
    ("dtype-bad", model("vllmConfig:", "  dtype: bf16"), 4, 12, "'dtype' must be one of 'auto', 'half'"),
    ("max-len-string", model("vllmConfig:", "  maxModelLen: 4k"), 4, 18, "'maxModelLen' must be a whole number"),
    ("max-num-seqs-zero", model("vllmConfig:", "  maxNumSeqs: 0"), 4, 17, "must be at least 1"),
    (
        "prefix-caching-word",
        model("vllmConfig:", "  enablePrefixCaching: maybe"),
        4,
        26,
        "'enablePrefixCaching' must be true or false",
    ),
    ("extra-args-mapping", model("vllmConfig:", "  extraArgs: {a: 1}"), 4, 16, "'extraArgs' must be a list"),
    ("vllm-config-list", model("vllmConfig: [1]"), 3, 15, "'vllmConfig' must be a mapping"),
    ("env-reserved-token", model("env:", "  HF_TOKEN: hf_abc"), 4, 5, "HF_TOKEN is set by vllmctl from a Secret"),
    ("env-bad-name", model("env:", "  1BAD: x"), 4, 5, "'1BAD' is not a valid environment variable name"),
    ("env-list", model("env:", "  - name: A"), 4, 5, "'env' must be a mapping"),
    ("hf-required-word", model("hfTokenRequired: sometimes"), 3, 20, "'hfTokenRequired' must be true or false"),
    ("access-mode-bad", model("pvcAccessMode: RWX"), 3, 18, "'pvcAccessMode' must be one of 'ReadWriteOnce'"),
    (
        "toleration-operator",
        model("tolerations:", "  - key: gpu", "    operator: Maybe"),
        5,
        17,
        "'operator' must be one of 'Equal' or 'Exists'",
    ),
    (
        "selector-term-shape",
        model("nodeSelectorTerms:", "  - matchExpressions:", "    - key: a", "      operator: Near"),
        6,
        19,
        "'operator' must be one of 'In', 'NotIn'",
    ),
    ("entry-not-mapping", "- just-a-string\n", 1, 3, "each model must be a mapping"),
    ("enabled-word", model("enabled: nope"), 3, 12, "'enabled' must be true or false"),
]


@pytest.mark.parametrize("case_id, text, line, column, fragment", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_reported_at_its_location(case_id, text, line, column, fragment):
    with pytest.raises(InvalidModels) as info:
        validate_text(text, "models.yaml", Settings(chart_version="0.1.12"))
    problems = info.value.problems
    matching = [p for p in problems if fragment in p.message]
    assert matching, f"no problem mentions {fragment!r}: {[str(p) for p in problems]}"
    assert (matching[0].line, matching[0].column) == (line, column), str(matching[0])
    assert str(matching[0]).startswith(f"models.yaml:{line}:{column}: ")


def test_there_are_at_least_forty_distinct_bad_inputs():
    assert len({c[0] for c in CASES}) >= 40
    assert len({c[1] for c in CASES}) == len(CASES)


def test_duplicate_names_point_at_the_second_with_the_first_line():
    text = HEAD + "- name: m1\n  modelURL: a/b\n"
    with pytest.raises(InvalidModels) as info:
        validate_text(text, "models.yaml", Settings())
    (problem,) = info.value.problems
    assert (problem.line, problem.column) == (3, 9)
    assert "duplicate model name 'm1' (first defined on line 1)" in problem.message


def test_key_newer_than_the_chart_version_names_the_version_that_has_it():
    text = model("tolerations:", "  - key: gpu", "    operator: Exists")
    with pytest.raises(InvalidModels) as info:
        validate_text(text, "models.yaml", Settings(chart_version="0.1.10"))
    (problem,) = info.value.problems
    assert "'tolerations' needs vllm-stack chart 0.1.11 or newer; VLLM_CHART_VERSION is 0.1.10" in problem.message
    assert (problem.line, problem.column) == (3, 3)
    validate_text(text, "models.yaml", Settings(chart_version="0.1.11"))


def test_model_revision_needs_0_1_12():
    text = model("modelRevision: main")
    with pytest.raises(InvalidModels, match="needs vllm-stack chart 0.1.12"):
        validate_text(text, "models.yaml", Settings(chart_version="0.1.11"))


def test_name_length_limit_follows_the_release_name():
    text = f"- name: {'a' * 40}\n  modelURL: a/b\n"
    validate_text(text, "models.yaml", Settings(release="vllm"))
    with pytest.raises(InvalidModels, match="use at most 32"):
        validate_text(text, "models.yaml", Settings(release="production-vllm"))


def test_yaml_syntax_error_has_a_location():
    with pytest.raises(InvalidModels) as info:
        validate_text("- name: a\n  modelURL: [unclosed\n", "models.yaml", Settings())
    (problem,) = info.value.problems
    assert problem.message.startswith("invalid YAML")
    assert problem.line >= 2


def test_duplicate_keys_are_errors():
    with pytest.raises(InvalidModels) as info:
        validate_text(HEAD + "  name: m2\n", "models.yaml", Settings())
    assert info.value.problems[0].line == 3


def test_top_level_must_be_a_list():
    with pytest.raises(InvalidModels, match="must be a YAML list of models"):
        validate_text("name: a\nmodelURL: a/b\n", "models.yaml", Settings())


def test_every_problem_is_reported_not_only_the_first():
    text = "- name: A\n  modelURL: x\n  requestCPU: '1'\n"
    with pytest.raises(InvalidModels) as info:
        validate_text(text, "models.yaml", Settings())
    assert [p.line for p in info.value.problems] == [1, 2, 3]


def test_defaults_are_the_seeds():
    (m,) = validate_text(HEAD, "models.yaml", Settings()).models
    assert (m.replicaCount, m.requestCPU, m.requestMemory, m.requestGPU, m.pvcStorage) == (1, 6, "16Gi", 1, "50Gi")
    assert m.limitMemory is None and m.vllmConfig is None and m.enabled


def test_an_empty_or_all_comment_file_has_no_models():
    assert validate_text("# nothing yet\n", "models.yaml", Settings()).models == []
    assert validate_text("", "models.yaml", Settings()).models == []


def test_the_example_file_is_valid():
    from vllmctl.workflows.models import example_text

    models = validate_text(example_text(), "models.example.yaml", Settings()).models
    assert [m.name for m in models] == ["qwen-0-5b"]


def test_latest_tag_is_accepted_with_a_warning():
    loaded = validate_text(HEAD, "models.yaml", Settings(model_tag="latest"))
    assert any("VLLM_MODEL_TAG=latest floats" in w for w in loaded.warnings)
    assert validate_text(HEAD, "models.yaml", Settings()).warnings == []


def test_a_floating_router_tag_is_accepted_with_a_warning():
    for tag in ("latest", ""):
        loaded = validate_text(HEAD, "models.yaml", Settings(router_tag=tag))
        assert any(w.startswith(f"VLLM_ROUTER_TAG={tag or '(empty'}") and "v0.1.12" in w for w in loaded.warnings)
    # without a router there is no router image to pin
    assert validate_text(HEAD, "models.yaml", Settings(router_tag="latest", router_enabled=False)).warnings == []


def test_the_defaults_pin_the_newest_chart_and_the_router():
    s = Settings()
    assert (s.chart_version, s.router_image, s.router_tag) == ("0.1.12", "lmcache/lmstack-router", "v0.1.12")
