"""What a person sees on an 80-column terminal (a real pseudo-terminal, not COLUMNS): help in panels
with whole descriptions, tables that fold by column, prompts that check each answer."""

from __future__ import annotations

import re

import pytest
import yaml

from tests.cli.tty import TTYSession
from tests.helpers import run_cli

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
PANELS = ("Models:", "Secrets:", "Deploy:", "Operate:", "API:")


def screen(session: TTYSession) -> list[str]:
    assert session.wait() == 0, session.seen
    return ANSI.sub("", session.seen).replace("\r\n", "\n").splitlines()


def commands() -> list[str]:
    text = run_cli("--help").stdout
    return [line.split()[0] for line in text.splitlines() if re.match(r"^  [a-z][a-z-]+  ", line)]


def test_root_help_groups_every_command_in_panels_with_whole_descriptions(tmp_path):
    lines = screen(TTYSession("--help", cwd=tmp_path))
    assert max(len(line) for line in lines) <= 80, lines
    headings = [line for line in lines if line in PANELS]
    assert headings == list(PANELS)
    names = commands()
    assert len(names) >= 37 and {"install", "set-hf-token", "bench", "chart", "add-model"} <= set(names)
    # The panel a command sits in is its subject.
    text = "\n".join(lines)
    for panel, member in [("Models:", "add-model"), ("Secrets:", "set-api-key"), ("Deploy:", "rollback"),
                          ("Operate:", "port-forward"), ("API:", "smoke")]:
        section = text.split(panel, 1)[1].split("\n\n", 1)[0]
        assert f"  {member}  " in section, (panel, section)
    # Descriptions are whole sentences: never cut with "...", never broken inside `hf-token`.
    assert not any(line.rstrip().endswith(("...", "-")) for line in lines[1:]), lines
    assert "Print the API key (bare, on stdout): from Vault when" in text


@pytest.mark.parametrize("command", ["install", "add-model", "set-hf-token", "bench", "render", "uninstall",
                                     "check-prerequisites", "test-completions", "validate", "port-forward"])
def test_command_help_fits_80_columns_and_breaks_only_between_words(tmp_path, command):
    lines = screen(TTYSession(command, "--help", cwd=tmp_path))
    assert max(len(line) for line in lines) <= 80, "\n".join(lines)
    assert not any(re.search(r"[A-Za-z]-$", line) for line in lines), "\n".join(lines)


def test_every_command_help_fits_80_columns():
    # Every command, through click's own width logic (the pty tests above cover the terminal itself).
    for name in commands():
        result = run_cli(name, "--help", env={"COLUMNS": "80"})
        assert result.code == 0, (name, result.output)
        too_long = [line for line in result.stdout.splitlines() if len(line) > 80]
        assert not too_long, (name, too_long)
        assert not any(re.search(r"[A-Za-z]-$", line) for line in result.stdout.splitlines()), name


def test_list_models_folds_long_cells_within_their_column(tmp_path):
    url = "some-organisation/Some-Really-Long-Model-Name-Instruct-v2"
    (tmp_path / "models.yaml").write_text(
        f"- name: llama3\n  modelURL: meta-llama/Llama-3.1-8B-Instruct\n"
        f"- name: a-rather-long-model-name\n  modelURL: {url}\n  vllmConfig:\n    maxModelLen: 131072\n")
    lines = [line for line in screen(TTYSession("list-models", cwd=tmp_path)) if line.strip()]
    assert max(len(line) for line in lines) <= 80, lines
    header = lines[0]
    assert header.split() == ["NAME", "MODEL", "GPUS", "REPLICAS", "MEMORY", "STORAGE", "MAX", "LEN", "ENABLED"]
    start, end = header.index("MODEL"), header.index("GPUS")
    # The MODEL column, read down, gives the whole URLs back; nothing spills into GPUS.
    column = "".join(line[start:end].strip() for line in lines[1:])
    assert column == "meta-llama/Llama-3.1-8B-Instruct" + url
    second = next(i for i, line in enumerate(lines) if line.startswith("a-rather"))
    assert lines[second].split()[-6:] == ["1", "1", "16Gi", "50Gi", "131072", "yes"]
    # Without a terminal (a pipe) the table keeps one line per model, for grep.
    piped = run_cli("list-models", cwd=tmp_path).stdout.splitlines()
    assert len(piped) == 3 and url in piped[2]


def test_add_model_asks_again_until_each_answer_is_valid(tmp_path):
    (tmp_path / "models.yaml").write_text("- name: chat\n  modelURL: Qwen/Qwen2.5-7B-Instruct\n")
    session = TTYSession("add-model", cwd=tmp_path)
    for question, answers, complaint in [
        ("Model name", ["Bad_Name", "chat", "phi4"], ["is not a valid model name", "already exists"]),
        ("Hugging Face model id", ["nope", "microsoft/Phi-4-mini-instruct"], ["is not a Hugging Face model id"]),
        ("GPUs per pod", ["two", "1"], ["not a valid integer"]),
        ("Replicas", ["-1", "2"], ["replicaCount"]),
        ("Memory per pod", ["16gb", "24Gi"], ["has an unknown unit"]),
        ("Model cache size", ["30Gi"], []),
    ]:
        session.expect(question)
        for answer, expected in zip(answers, [*complaint, None], strict=False):
            session.send(answer)
            if expected:
                session.expect(expected)
                session.expect(f"{question}")  # asked again, same question
    lines = screen(session)
    text = "\n".join(lines)
    assert "try again (or pass --name)" in text and "try again (or pass --memory)" in text
    models = yaml.safe_load((tmp_path / "models.yaml").read_text())
    assert models[-1] == {"name": "phi4", "modelURL": "microsoft/Phi-4-mini-instruct", "replicaCount": 2,
                          "requestCPU": 6, "requestMemory": "24Gi", "requestGPU": 1, "pvcStorage": "30Gi"}


def test_add_model_with_flags_on_a_terminal_asks_nothing(tmp_path):
    # The README's one-liner: the flags are the answers; the rest take their defaults.
    session = TTYSession("add-model", "--name", "llama3", "--model-url", "meta-llama/Llama-3.1-8B-Instruct",
                         cwd=tmp_path)
    text = "\n".join(screen(session))
    assert "?" not in text and "GPUs per pod" not in text, text
    assert "Added model 'llama3'" in text
    assert yaml.safe_load((tmp_path / "models.yaml").read_text())[0]["requestGPU"] == 1


def test_add_model_asks_only_what_no_flag_gave(tmp_path):
    session = TTYSession("add-model", "--model-url", "Qwen/Qwen2.5-0.5B-Instruct", "--gpus", "2", cwd=tmp_path)
    session.expect("Model name")
    session.send("qwen")
    text = "\n".join(screen(session))
    assert "Hugging Face model id" not in text and "Replicas" not in text
    assert yaml.safe_load((tmp_path / "models.yaml").read_text())[0]["requestGPU"] == 2


def test_version(tmp_path):
    from vllmctl import __version__

    result = run_cli("--version")
    assert result.code == 0 and result.stdout == f"vllmctl {__version__}\n"
