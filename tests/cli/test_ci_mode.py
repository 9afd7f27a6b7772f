"""Non-interactive mode, as CI upgrade jobs and pull-request checks run the CLI.

`--yes` or CI=true means: never prompt, even on a terminal (CI runners often allocate one); a
missing answer is exit 2 with one line naming the flag or variable that supplies it. The checks
run on a real pseudo-terminal, so they prove CI=true is what stops the prompt, not a missing TTY.
`validate` and `render` must work without any cluster credentials.
"""

from __future__ import annotations

import ast
import re
import subprocess
from pathlib import Path

import pytest

from tests.cli.tty import TTYSession
from tests.helpers import REPO, cli_env, run_cli, vendor_chart

MODELS = """\
- name: chat
  modelURL: Qwen/Qwen2.5-0.5B-Instruct
  hfTokenRequired: false
- name: other
  modelURL: Qwen/Qwen2.5-1.5B-Instruct
  hfTokenRequired: false
"""
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def run_on_tty(*args: str, cwd: Path, env: dict[str, str] | None = None) -> tuple[int, str]:
    """`vllmctl ARGS` with stdin, stdout and stderr on a pseudo-terminal, to its end: (exit code, output)."""
    session = TTYSession(*args, cwd=cwd, env={"HOME": str(cwd), **(env or {})})
    try:
        code = session.wait(timeout=30)
    except subprocess.TimeoutExpired:  # it waits at a prompt: exactly what must not happen
        session.proc.kill()
        session.wait()
        raise AssertionError(f"vllmctl {' '.join(args)} waited for an answer: {session.seen!r}") from None
    return code, ANSI.sub("", session.seen).replace("\r\n", "\n")


@pytest.fixture
def repo(tmp_path) -> Path:
    (tmp_path / "models.yaml").write_text(MODELS)
    return tmp_path


def one_error_line(output: str) -> str:
    lines = [line for line in output.strip().splitlines() if line.strip()]
    assert len(lines) == 1, output
    assert lines[0].startswith("error: "), output
    return lines[0]


def test_on_a_terminal_without_ci_it_does_prompt(repo):
    # The control for every test below: the same terminal does get a prompt when CI is not set.
    session = TTYSession("add-model", cwd=repo, env={"HOME": str(repo)})
    session.expect("Model name (API model id, e.g. llama3):")
    session.proc.kill()
    session.wait()


@pytest.mark.parametrize("how", [{"env": {"CI": "true"}}, {"env": {"CI": "1"}}, {"args": ("--yes",)}])
def test_add_model_without_name_names_the_flag(repo, how):
    code, output = run_on_tty("add-model", *how.get("args", ()), cwd=repo, env=how.get("env"))
    assert code == 2
    assert "is required: pass --name." in one_error_line(output)
    assert (repo / "models.yaml").read_text() == MODELS


def test_add_model_without_model_url_names_that_flag(repo):
    code, output = run_on_tty("add-model", "--name", "third", cwd=repo, env={"CI": "true"})
    assert code == 2 and "pass --model-url." in one_error_line(output)


def test_remove_model_without_a_name_lists_the_choices(repo):
    code, output = run_on_tty("remove-model", cwd=repo, env={"CI": "true"})
    assert code == 2
    assert "Model to remove: pass NAME (one of chat, other)." in one_error_line(output)
    assert (repo / "models.yaml").read_text() == MODELS


def test_remove_model_without_yes_asks_for_yes(repo):
    code, output = run_on_tty("remove-model", "chat", cwd=repo, env={"CI": "true"})
    assert code == 2 and "needs confirmation: pass --yes." in one_error_line(output)
    assert (repo / "models.yaml").read_text() == MODELS
    code, _ = run_on_tty("remove-model", "chat", "--yes", cwd=repo, env={"CI": "true"})
    assert code == 0 and "name: chat" not in (repo / "models.yaml").read_text()


def test_a_secret_is_never_prompted_for_in_ci(repo):
    code, output = run_on_tty("set-hf-token", cwd=repo, env={"CI": "true"})
    assert code == 2
    line = one_error_line(output)
    assert "--stdin" in line and "VLLM_HF_TOKEN" in line


def test_without_a_terminal_the_same_errors_happen(repo):
    result = run_cli("add-model", "--model-url", "a/b", cwd=repo)
    assert result.code == 2 and "pass --name." in result.stderr


def test_validate_and_render_need_no_cluster_credentials(repo, real_chart):
    vendor_chart(repo, real_chart)  # `vllmctl chart pull` done once: the chart check needs no network
    # No KUBECONFIG (cli_env drops it), a HOME without ~/.kube, nothing listening: still fine.
    env = {"HOME": str(repo), "CI": "true", "VAULT_ADDR": "http://127.0.0.1:1", "KUBERNETES_SERVICE_HOST": ""}
    assert "KUBECONFIG" not in cli_env(env)
    result = run_cli("validate", "-o", "json", cwd=repo, env=env)
    assert result.code == 0, result.stderr
    for fmt in ("helm", "argocd", "flux"):
        result = run_cli("render", "--format", fmt, "-d", f"out-{fmt}", cwd=repo, env=env)
        assert result.code == 0, result.stderr


def test_invalid_input_is_exit_2_with_json_still_one_line_on_stderr(repo):
    (repo / "models.yaml").write_text("- name: Bad_Name\n  modelURL: a/b\n")
    result = run_cli("validate", "-o", "json", cwd=repo, env={"CI": "true"})
    assert result.code == 2
    assert '"valid": false' in result.stdout


def test_root_help_documents_the_exit_codes():
    text = " ".join(run_cli("--help").stdout.split())
    for phrase in ("2 invalid input", "4 rollout failed", "5 no changes (with --detailed-exit-code)"):
        assert phrase in text


PROMPTS = {("typer", "prompt"), ("typer", "confirm"), ("click", "prompt"), ("click", "confirm"),
           ("getpass", "getpass")}


def _prompt_calls_outside_a_gate(path: Path, root: Path = REPO) -> list[str]:
    """Calls that can prompt, in functions none of whose enclosing functions calls interactive()."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []

    def calls_interactive(fn) -> bool:
        return any(isinstance(n, ast.Call) and getattr(n.func, "id", getattr(n.func, "attr", "")) == "interactive"
                   for n in ast.walk(fn))

    def visit(node, gated: bool) -> None:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            gated = gated or calls_interactive(node)
        if isinstance(node, ast.Call):
            func = node.func
            name = (getattr(func.value, "id", ""), func.attr) if isinstance(func, ast.Attribute) else ("", func.id) \
                if isinstance(func, ast.Name) else ("", "")
            if (name in PROMPTS or name[1] == "input") and not gated:
                found.append(f"{path.relative_to(root)}:{node.lineno}")
        for child in ast.iter_child_nodes(node):
            visit(child, gated)

    visit(tree, False)
    return found


def test_every_prompt_goes_through_the_interactive_gate():
    package = REPO / "cli" / "vllmctl"
    gate = package / "commands" / "interactive.py"
    offenders = [hit for path in sorted(package.rglob("*.py")) if path != gate
                 for hit in _prompt_calls_outside_a_gate(path)]
    assert offenders == [], "prompts outside commands/interactive.py without an interactive() check"


def test_the_gate_check_would_find_an_ungated_prompt(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import typer\nfrom x import interactive\n\n"
        "def ask_name():\n    return typer.prompt('name')\n\n"
        "def gated(yes):\n    if interactive(yes):\n        def inner():\n            return typer.confirm('ok?')\n"
    )
    assert _prompt_calls_outside_a_gate(sample, tmp_path) == ["sample.py:5"]
