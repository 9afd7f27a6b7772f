"""The README documents every setting and every command, and .ci/run calls its test command."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest

from tests.helpers import REPO
from vllmctl.core.settings import setting_fields

README = (REPO / "README.md").read_text()


def test_every_setting_is_documented():
    missing = [f.metadata["env"] for f in setting_fields() if f"`{f.metadata['env']}`" not in README]
    assert not missing, f"README lacks settings: {missing}"


def _command_paths(group, prefix=()):
    for name, command in group.commands.items():
        if hasattr(command, "commands"):
            yield from _command_paths(command, (*prefix, name))
        else:
            yield " ".join((*prefix, name))


def test_every_command_is_documented_and_has_a_recipe():
    from typer.main import get_command

    from vllmctl.commands.app import build_app

    commands = set(_command_paths(get_command(build_app())))
    # each recipe is `NAME *ARGS:` then `@vllmctl COMMAND "$@"`; the recipe name is the command's, dashed
    recipes = dict(re.findall(r"^([a-z][a-z-]*) \*ARGS:\n    @vllmctl ([a-z -]+?) \"\$@\"$",
                              (REPO / "vllm" / "justfile").read_text(), re.M))
    assert all(name == command.replace(" ", "-") for name, command in recipes.items()), recipes
    assert commands == set(recipes.values()), commands ^ set(recipes.values())
    undocumented = [c for c in commands if f"`{c}" not in README]
    assert not undocumented, undocumented


def test_ci_runs_the_readmes_test_command():
    command = "python3 -m pip install rust-just && just test"
    assert command in README
    assert command in (REPO / ".ci" / "run").read_text().splitlines()


@pytest.mark.skipif(shutil.which("just") is None, reason="just (rust-just) is not installed")
def test_the_test_command_runs_the_static_checks():
    """`just test` (what CI runs) runs `just lint` first, and lint is ruff over the code and mypy."""
    dump = subprocess.run(["just", "--dump", "--dump-format", "json"], cwd=REPO, capture_output=True, text=True,
                          check=True, timeout=60)
    recipes = json.loads(dump.stdout)["recipes"]
    assert "lint" in [d["recipe"] for d in recipes["test"]["dependencies"]]
    lines = [" ".join(str(part) for part in line) for line in recipes["lint"]["body"]]
    assert "python3 -m ruff check cli tests benchmarks scripts" in lines
    assert "python3 -m mypy" in lines
