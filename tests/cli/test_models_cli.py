"""The models commands as users run them: a real child process, no TTY."""

from __future__ import annotations

import json

import yaml

from tests.helpers import run_cli, vendor_chart
from vllmctl.workflows.chart_check import SKIPPED

GOOD = "- name: chat\n  modelURL: Qwen/Qwen2.5-7B-Instruct\n  requestGPU: 2\n  vllmConfig:\n    maxModelLen: 8192\n"


def test_list_models_table_and_json(tmp_path):
    (tmp_path / "models.yaml").write_text(GOOD)
    table = run_cli("list-models", cwd=tmp_path)
    assert table.code == 0
    header, row = table.stdout.splitlines()
    assert header.split() == ["NAME", "MODEL", "GPUS", "REPLICAS", "MEMORY", "STORAGE", "MAX", "LEN", "ENABLED"]
    assert row.split() == ["chat", "Qwen/Qwen2.5-7B-Instruct", "2", "1", "16Gi", "50Gi", "8192", "yes"]
    data = json.loads(run_cli("list-models", "-o", "json", cwd=tmp_path).stdout)
    assert data[0]["name"] == "chat" and data[0]["requestCPU"] == 6


def test_list_models_without_a_file_says_how_to_create_one(tmp_path):
    result = run_cli("list-models", cwd=tmp_path)
    assert result.code == 0 and "add-model" in result.stderr and result.stdout == ""


def test_add_model_with_flags_creates_the_file_with_only_the_new_model(tmp_path):
    result = run_cli(
        "add-model",
        "--name",
        "coder",
        "--model-url",
        "Qwen/Qwen2.5-Coder-7B-Instruct",
        "--gpus",
        "2",
        "--tensor-parallel-size",
        "2",
        "--extra-arg",
        "--enforce-eager",
        cwd=tmp_path,
    )
    assert result.code == 0, result.stderr
    assert "Created models.yaml (the example's documentation and this model)" in result.stderr
    text = (tmp_path / "models.yaml").read_text()
    models = yaml.safe_load(text)
    # The example's model (qwen-0-5b, which would need a GPU of its own) is not quietly added.
    assert [m["name"] for m in models] == ["coder"]
    assert models[0]["vllmConfig"] == {"tensorParallelSize": 2, "extraArgs": ["--enforce-eager"]}
    assert "#   requestGPU        [1] GPUs per pod" in text and "qwen" not in text


def test_add_model_refuses_bad_input_naming_the_flag_and_leaves_the_file_alone(tmp_path):
    path = tmp_path / "models.yaml"
    path.write_text(GOOD)
    for args, fragment in [
        (["--name", "Bad_Name", "--model-url", "a/b"], "--name: 'name': 'Bad_Name' is not a valid model name"),
        (["--name", "ok", "--model-url", "nope"], "--model-url: 'modelURL': 'nope' is not a Hugging Face model id"),
        (
            ["--name", "ok", "--model-url", "a/b", "--memory", "16gb"],
            "--memory: 'requestMemory': '16gb' has an unknown unit",
        ),
        (
            ["--name", "ok", "--model-url", "a/b", "--gpus", "1", "--tensor-parallel-size", "2"],
            "tensor parallelism 2 needs 2 GPUs",
        ),
        (["--name", "chat", "--model-url", "a/b"], "a model named 'chat' already exists"),
        (["--model-url", "a/b"], "is required: pass --name"),
    ]:
        result = run_cli("add-model", *args, cwd=tmp_path)
        assert result.code == 2, (args, result.stderr)
        assert fragment in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr
        assert path.read_text() == GOOD


def test_remove_model_by_name_with_yes(tmp_path):
    path = tmp_path / "models.yaml"
    path.write_text(GOOD + "\n- name: other\n  modelURL: a/b\n")
    result = run_cli("remove-model", "other", "--yes", cwd=tmp_path)
    assert result.code == 0, result.stderr
    assert path.read_text() == GOOD


def test_remove_model_unknown_name_lists_the_configured_ones(tmp_path):
    (tmp_path / "models.yaml").write_text(GOOD)
    result = run_cli("remove-model", "nope", "--yes", cwd=tmp_path)
    assert result.code == 2 and "no model named 'nope'" in result.stderr and "configured: chat" in result.stderr


def test_validate_ok_and_json(tmp_path):
    (tmp_path / "models.yaml").write_text(GOOD)
    ok = run_cli("validate", cwd=tmp_path)
    assert ok.code == 0 and "1 model(s) valid" in ok.stderr
    data = json.loads(run_cli("validate", "-o", "json", cwd=tmp_path).stdout)
    fit = data.pop("fit")  # no Hub in this test: the model's facts are unknown, and said so
    assert data == {"file": "models.yaml", "valid": True, "chart_version": "0.1.12", "models": ["chat"],
                    "problems": [], "warnings": [], "overlays": [],
                    "chart": "vllm-stack 0.1.12 from https://vllm-project.github.io/production-stack",
                    "chart_check": {"skipped": SKIPPED}}
    assert [(r["name"], r["facts"], r["fits"]) for r in fit] == [("chat", "unknown", None)]


def test_validate_reports_every_problem_with_location_and_exit_2(tmp_path):
    (tmp_path / "models.yaml").write_text(GOOD + "  replicas: 2\n- name: chat\n  modelURL: x\n")
    result = run_cli("validate", cwd=tmp_path)
    assert result.code == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines[0] == "error: models.yaml:6:3: unknown key 'replicas'; did you mean 'replicaCount'?"
    assert any(line.startswith("models.yaml:8:13: 'modelURL'") for line in lines)
    data = json.loads(run_cli("validate", "-o", "json", cwd=tmp_path).stdout)
    assert data["valid"] is False and {p["line"] for p in data["problems"]} == {6, 8}


def test_validate_needs_no_cluster_or_vault(tmp_path):
    (tmp_path / "models.yaml").write_text(GOOD)
    result = run_cli("validate", cwd=tmp_path, env={"KUBECONFIG": "/nonexistent", "VAULT_ADDR": "http://127.0.0.1:1"})
    assert result.code == 0


def test_render_writes_three_files_and_prints_where(tmp_path, real_chart):
    (tmp_path / "models.yaml").write_text(GOOD)
    vendor_chart(tmp_path, real_chart)
    result = run_cli("render", cwd=tmp_path)
    assert result.code == 0, result.stderr
    assert result.stdout.split() == [
        "out/values.yaml",
        "out/hf-token-external-secret.yaml",
        "out/vllm-api-key-external-secret.yaml",
    ]
    values = yaml.safe_load((tmp_path / "out" / "values.yaml").read_text())
    assert values["servingEngineSpec"]["modelSpec"][0]["vllmConfig"]["extraArgs"][:2] == ["--served-model-name", "chat"]


def test_render_uses_the_example_when_there_is_no_models_yaml(tmp_path, real_chart):
    vendor_chart(tmp_path, real_chart)
    result = run_cli("render", "-o", "json", "-d", "rendered", cwd=tmp_path)
    assert result.code == 0
    data = json.loads(result.stdout)
    assert data["source"] == "models.example.yaml"
    assert any("models.yaml not found" in w for w in data["warnings"])
    assert (tmp_path / "rendered" / "values.yaml").exists()


def test_render_of_an_invalid_file_writes_nothing(tmp_path):
    (tmp_path / "models.yaml").write_text("- name: a\n  modelURL: a/b\n  requestGPU: many\n")
    result = run_cli("render", cwd=tmp_path)
    assert result.code == 2 and "models.yaml:3:15:" in result.stderr
    assert not (tmp_path / "out").exists()


def test_settings_from_env_and_dotenv_with_errors_naming_the_variable(tmp_path, real_chart):
    (tmp_path / "models.yaml").write_text(GOOD)
    vendor_chart(tmp_path, real_chart)
    (tmp_path / ".env.local").write_text("VLLM_NAMESPACE=from-dotenv\nexport VLLM_MODEL_TAG='v0.31.0'\n")
    result = run_cli("render", cwd=tmp_path)
    assert result.code == 0
    secret = yaml.safe_load((tmp_path / "out" / "hf-token-external-secret.yaml").read_text())
    assert secret["metadata"]["namespace"] == "from-dotenv"
    assert 'tag: "v0.31.0"' in (tmp_path / "out" / "values.yaml").read_text()
    # the real environment wins over .env.local, and a bad value names its variable
    bad = run_cli("render", cwd=tmp_path, env={"VLLM_ROUTER_REPLICAS": "two"})
    assert bad.code == 2 and "VLLM_ROUTER_REPLICAS must be a whole number, got 'two'" in bad.stderr
    flag = run_cli("render", "--namespace", "Bad_NS", cwd=tmp_path)
    assert flag.code == 2 and "--namespace (VLLM_NAMESPACE) must be a DNS-1123 label" in flag.stderr


def test_every_flag_names_its_variable_in_help():
    result = run_cli("render", "--help")
    for variable in (
        "VLLM_MODELS_FILE",
        "VLLM_NAMESPACE",
        "VLLM_RELEASE",
        "VLLM_CHART_VERSION",
        "VLLM_API_KEY_ENABLED",
    ):
        assert f"env var: {variable}" in " ".join(result.stdout.split()), variable


def test_unknown_command_and_option_are_usage_errors():
    assert run_cli("no-such-command").code == 2
    assert run_cli("render", "--no-such-flag").code == 2
