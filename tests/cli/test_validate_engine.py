"""validate/render check every model's real `vllm serve` line; --deep adds memory estimates."""

from __future__ import annotations

import json

from tests.helpers import run_cli
from tests.unit.test_gpu_memory import LLAMA_31_8B

BAD_FLAGS = """\
- name: a
  modelURL: Qwen/Qwen2.5-0.5B-Instruct
  vllmConfig:
    maxModelLen: 4096
    extraArgs:
      - --max-num-batched-tokns
      - "8192"
      - --kv-cache-dtype
      - fp9
      - --max-model-len
      - "8192"
"""


def test_validate_names_model_flag_and_line_for_each_bad_engine_flag(tmp_path):
    (tmp_path / "models.yaml").write_text(BAD_FLAGS)
    result = run_cli("validate", cwd=tmp_path)
    assert result.code == 2
    text = result.stderr
    assert "models.yaml:6:9: model 'a' (vllmConfig.extraArgs[0]): unknown flag --max-num-batched-tokns" in text
    assert "did you mean --max-num-batched-tokens?" in text
    assert "models.yaml:8:9: model 'a' (vllmConfig.extraArgs[2]): --kv-cache-dtype 'fp9' is not a valid choice" in text
    assert "models.yaml:10:9:" in text and "contradicts vllmConfig.maxModelLen (4096)" in text
    assert "Traceback" not in text


def test_render_refuses_bad_engine_flags_and_writes_nothing(tmp_path):
    (tmp_path / "models.yaml").write_text(BAD_FLAGS)
    assert run_cli("render", cwd=tmp_path).code == 2
    assert not (tmp_path / "out").exists()


def test_latest_tag_checks_against_the_nearest_release_with_a_warning(tmp_path):
    (tmp_path / "models.yaml").write_text("- name: a\n  modelURL: a/b\n  tag: latest\n")
    result = run_cli("validate", cwd=tmp_path)
    assert result.code == 0
    assert "warning: model 'a':" in result.stderr and "0.32.0" in result.stderr


def llama_with_local_config(tmp_path, max_model_len: int) -> None:
    """models.yaml with Llama-3.1-8B, and its config.json under tmp_path/configs (no Hub needed)."""
    config_dir = tmp_path / "configs" / "meta-llama" / "Llama-3.1-8B-Instruct"
    config_dir.mkdir(parents=True)
    (config_dir / "config.json").write_text(json.dumps(LLAMA_31_8B))
    (tmp_path / "models.yaml").write_text(
        "- name: llama\n  modelURL: meta-llama/Llama-3.1-8B-Instruct\n  hfTokenRequired: true\n"
        f"  vllmConfig:\n    maxModelLen: {max_model_len}\n    dtype: bfloat16\n"
    )


def test_deep_gives_a_memory_estimate_from_a_local_config(tmp_path):
    llama_with_local_config(tmp_path, 131072)
    result = run_cli("validate", "--deep", "--model-config", str(tmp_path / "configs"), "--gpu-memory", "24Gi",
                     "-o", "json", cwd=tmp_path, env={"HF_ENDPOINT": "http://127.0.0.1:9"})
    assert result.code == 0, result.stderr
    data = json.loads(result.stdout)
    (deep,) = data["deep"]
    assert deep["model"] == "llama"
    assert deep["estimate"]["params"] == 8_030_261_248
    assert deep["estimate"]["weight_bytes_per_gpu"] == 2 * 8_030_261_248  # bf16: two bytes a parameter
    assert deep["fits"] is False  # 15 GiB of weights + 16 GiB of KV cache for 128k tokens > 24 GiB
