"""The README's commands, as written, in a fresh clone: a virtual environment (as the README tells
Debian/Ubuntu users), `python3 -m pip install -e . && just vllm::render`, then the quick start's
steps that need no cluster. pip runs offline against this machine's packages (no index, no build
isolation), so the test needs no network."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import pytest
import yaml

from tests.helpers import REPO

README = (REPO / "README.md").read_text()

pytestmark = pytest.mark.skipif(shutil.which("just") is None or shutil.which("git") is None,
                                reason="needs just and git")


def block_after(heading: str) -> list[str]:
    """The command lines of the first ```sh block after `heading`."""
    section = README.split(heading, 1)[1]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0]
    return [line.split("  #")[0].strip() for line in block.splitlines() if line.strip() and not line.startswith("#")]


@pytest.fixture(scope="module")
def clone(tmp_path_factory):
    root = tmp_path_factory.mktemp("fresh")
    subprocess.run(["git", "clone", "--quiet", str(REPO), str(root / "vllmctl")], check=True, timeout=120)
    venv_line = re.search(r"`(python3 -m venv \.venv && \. \.venv/bin/activate)`", README)
    assert venv_line, "the README tells Debian/Ubuntu users how to make a virtual environment"
    # As the README says, with this machine's packages visible so nothing is downloaded.
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(root / "vllmctl" / ".venv")],
                   check=True, timeout=120)
    return root / "vllmctl"


def shell(clone, line: str, timeout: float = 300):
    venv = clone / ".venv"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VLLM_", "VAULT_", "PYTHON"))}
    env.update({"VIRTUAL_ENV": str(venv), "PATH": f"{venv / 'bin'}{os.pathsep}{env['PATH']}",
                "PIP_NO_INDEX": "1", "PIP_NO_BUILD_ISOLATION": "0", "PIP_DISABLE_PIP_VERSION_CHECK": "1",
                "HOME": str(clone.parent)})
    env.pop("CI", None)
    return subprocess.run(["bash", "-c", line], cwd=clone, env=env, capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def test_two_commands_first_one_as_written(clone):
    first = next(line for line in block_after("## Two commands") if line.startswith("python3 -m pip install -e ."))
    assert first == "python3 -m pip install -e . && just vllm::render"
    r = shell(clone, first)
    assert r.returncode == 0, r.stdout + r.stderr
    # The clone's own vllmctl ran (installed into the venv), and rendered the example.
    assert (clone / ".venv" / "bin" / "vllmctl").exists()
    assert sorted(p.name for p in (clone / "out").iterdir()) == [
        "hf-token-external-secret.yaml", "values.yaml", "vllm-api-key-external-secret.yaml"]
    assert "models.example.yaml" in r.stderr


def test_quick_start_steps_without_a_cluster_as_written(clone):
    lines = block_after("## Quick start against a cluster")
    add, validate = lines[0], lines[1]
    assert add.startswith("just vllm::add-model --name llama3") and validate == "just vllm::validate"
    shell(clone, "python3 -m pip install -e .")  # idempotent; the first test may not have run
    r = shell(clone, add)
    assert r.returncode == 0, r.stdout + r.stderr
    models = yaml.safe_load((clone / "models.yaml").read_text())
    assert [m["name"] for m in models] == ["llama3"]  # not the example's model as well
    r = shell(clone, validate)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "1 model(s) valid for vllm-stack" in r.stderr
    # A recipe's failure is vllmctl's one line and exit code, nothing from just.
    r = shell(clone, "just vllm::validate --models-file missing.yaml")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "recipe" not in r.stderr.lower()
