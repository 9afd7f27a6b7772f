"""Editing models.yaml as text: untouched lines stay byte-identical; writes are atomic and locked."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from vllmctl.core import models_file
from vllmctl.core.settings import Settings
from vllmctl.workflows import models as wf

USER_FILE = """\
# Our production models -- owned by the platform team.
# Do not reorder: dashboards key on the order.

- name: chat   # the default chat model
  modelURL: "Qwen/Qwen2.5-7B-Instruct"
  requestGPU: 1
  env: {VLLM_LOGGING_LEVEL: 'INFO'}      # odd spacing kept
  vllmConfig:
    maxModelLen: 8192   # long enough for RAG
    extraArgs:
      - --max-num-batched-tokens
      - "8192"

# Embeddings, small.
- name: embed
  modelURL: BAAI/bge-small-en-v1.5
  requestCPU: 2
  requestMemory: 4Gi

- name: coder
  modelURL: Qwen/Qwen2.5-Coder-7B-Instruct
  # tuned for long files
  vllmConfig:
    maxModelLen: 32768

# Candidates, not yet deployed:
# - name: llama3-8b
#   modelURL: meta-llama/Llama-3.1-8B-Instruct
"""

NEW = {"name": "tiny", "modelURL": "Qwen/Qwen2.5-0.5B-Instruct", "replicaCount": 1, "requestGPU": 1,
       "vllmConfig": {"maxModelLen": 4096, "extraArgs": ["--enforce-eager"]}}


def doc(text: str) -> models_file.ModelsDocument:
    return models_file.parse_document(text, "models.yaml")


def names(text: str) -> list[str]:
    return [m.name for m in wf.validate_text(text, "models.yaml", Settings()).models]


def test_append_keeps_every_existing_byte():
    new_text = models_file.append_entry(doc(USER_FILE), NEW)
    assert new_text.startswith(USER_FILE)
    assert names(new_text) == ["chat", "embed", "coder", "tiny"]
    added = new_text[len(USER_FILE):]
    assert added.startswith("\n- name: tiny\n  modelURL: Qwen/Qwen2.5-0.5B-Instruct\n")
    assert "    extraArgs:\n    - --enforce-eager\n" in added


def test_append_follows_an_indented_list_style():
    text = "  - name: a\n    modelURL: a/b\n"
    new_text = models_file.append_entry(doc(text), {"name": "b", "modelURL": "c/d"})
    assert new_text == text + "\n  - name: b\n    modelURL: c/d\n"
    assert names(new_text) == ["a", "b"]


def test_append_to_an_empty_commented_file():
    text = "# just comments\n# - name: x\n"
    new_text = models_file.append_entry(doc(text), {"name": "b", "modelURL": "c/d"})
    assert new_text == text + "\n- name: b\n  modelURL: c/d\n"


def test_append_to_a_file_without_final_newline():
    text = "- name: a\n  modelURL: a/b"
    assert models_file.append_entry(doc(text), {"name": "b", "modelURL": "c/d"}) == (
        "- name: a\n  modelURL: a/b\n\n- name: b\n  modelURL: c/d\n"
    )


def test_remove_middle_entry_keeps_the_rest_byte_identical():
    new_text = models_file.remove_entry(doc(USER_FILE), 1)
    assert names(new_text) == ["chat", "coder"]
    # exactly the entry's own lines go; its comment above is a separate line and stays
    entry = "- name: embed\n  modelURL: BAAI/bge-small-en-v1.5\n  requestCPU: 2\n  requestMemory: 4Gi\n"
    assert new_text == USER_FILE.replace(entry, "")


def test_remove_last_entry_keeps_trailing_comments():
    new_text = models_file.remove_entry(doc(USER_FILE), 2)
    assert names(new_text) == ["chat", "embed"]
    assert new_text.endswith("# Candidates, not yet deployed:\n# - name: llama3-8b\n"
                             "#   modelURL: meta-llama/Llama-3.1-8B-Instruct\n")
    assert "tuned for long files" not in new_text


def test_add_then_remove_restores_the_original_bytes():
    added = models_file.append_entry(doc(USER_FILE), NEW)
    assert models_file.remove_entry(doc(added), 3) == USER_FILE


def _settings(tmp_path: Path) -> Settings:
    return Settings(models_file=str(tmp_path / "models.yaml"))


def test_workflow_add_creates_the_file_with_the_example_notes_and_only_the_new_model(tmp_path):
    settings = _settings(tmp_path)
    _, created = wf.add(settings, dict(NEW))
    assert created
    text = (tmp_path / "models.yaml").read_text()
    notes = wf.example_documentation()
    assert text.startswith(notes) and "#   modelURL" in notes and "qwen" not in notes
    assert names(text) == ["tiny"]


def test_workflow_refuses_a_duplicate_without_touching_the_file(tmp_path):
    path = tmp_path / "models.yaml"
    path.write_text(USER_FILE)
    before = path.stat().st_mtime_ns
    try:
        wf.add(_settings(tmp_path), {"name": "embed", "modelURL": "a/b"})
    except Exception as e:  # noqa: BLE001
        assert "already exists" in str(e)
    else:
        raise AssertionError("duplicate accepted")
    assert path.read_text() == USER_FILE and path.stat().st_mtime_ns == before


def test_workflow_refuses_to_edit_an_invalid_file(tmp_path):
    path = tmp_path / "models.yaml"
    path.write_text(USER_FILE.replace("requestCPU: 2", "requestCPU: two"))
    original = path.read_bytes()
    try:
        wf.add(_settings(tmp_path), dict(NEW))
    except models_file.InvalidModels as e:
        assert "requestCPU" in str(e)
    else:
        raise AssertionError("edited an invalid file")
    assert path.read_bytes() == original


def test_remove_keeps_file_mode(tmp_path):
    path = tmp_path / "models.yaml"
    path.write_text(USER_FILE)
    path.chmod(0o600)
    wf.remove(_settings(tmp_path), "coder")
    assert path.stat().st_mode & 0o777 == 0o600
    assert names(path.read_text()) == ["chat", "embed"]


def test_concurrent_adds_all_land(tmp_path):
    path = tmp_path / "models.yaml"
    path.write_text(USER_FILE)
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "vllmctl.main", "add-model", "--name", f"m{i}", "--model-url", f"org/m{i}",
             "--yes", "-f", str(path)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
        )
        for i in range(8)
    ]
    results = [(p.wait(timeout=60), p.stderr.read().decode()) for p in procs]
    assert all(code == 0 for code, _ in results), results
    final = path.read_text()
    assert final.startswith(USER_FILE)
    assert sorted(names(final)) == sorted(["chat", "embed", "coder", *[f"m{i}" for i in range(8)]])


KILL_CHILD = """
import sys, time
from pathlib import Path
from vllmctl.adapters import files
path = Path(sys.argv[1])
real_fsync = files.os.fsync
def slow_fsync(fd):
    print("writing", flush=True)
    time.sleep(30)  # killed here: the new text is written to the temp file but not yet renamed
    real_fsync(fd)
files.os.fsync = slow_fsync
files.write_atomic(path, "- name: half\\n" * 100000)
"""


def test_a_kill_mid_write_leaves_the_old_file_intact(tmp_path):
    path = tmp_path / "models.yaml"
    path.write_text(USER_FILE)
    child = subprocess.Popen([sys.executable, "-c", KILL_CHILD, str(path)], stdout=subprocess.PIPE)
    assert child.stdout.readline().strip() == b"writing"
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=10)
    assert path.read_text() == USER_FILE
    assert sorted(p.name for p in tmp_path.iterdir()) == ["models.yaml"]  # the temp file is unnamed (O_TMPFILE)
    assert names(path.read_text()) == ["chat", "embed", "coder"]
