"""The recipes as users run them, through the real `just`: vllmctl's one line and exit code, nothing more."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from tests.helpers import REPO, cli_env

GOOD = "- name: chat\n  modelURL: Qwen/Qwen2.5-7B-Instruct\n"
BAD = GOOD + "  replicas: 2\n"

pytestmark = pytest.mark.skipif(shutil.which("just") is None, reason="just (rust-just) is not installed")


@pytest.fixture
def project(tmp_path):
    """A checkout's justfiles, with `vllmctl` on PATH being this worktree's CLI."""
    shutil.copy(REPO / "justfile", tmp_path / "justfile")
    (tmp_path / "vllm").mkdir()
    shutil.copy(REPO / "vllm" / "justfile", tmp_path / "vllm" / "justfile")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "vllmctl"
    shim.write_text(f'#!/bin/sh\nexec {sys.executable} -m vllmctl.main "$@"\n')
    shim.chmod(0o755)
    return tmp_path


def just(project, *args, env=None):
    full = cli_env({"PATH": f"{project / 'bin'}{os.pathsep}{os.environ['PATH']}", **(env or {})})
    proc = subprocess.run(["just", *args], cwd=project, env=full, capture_output=True, text=True, timeout=120)
    return proc.returncode, proc.stdout, proc.stderr


def test_invalid_input_is_vllmctls_one_line_and_exit_2(project):
    (project / "models.yaml").write_text(BAD)
    code, out, err = just(project, "vllm::validate")
    assert code == 2
    assert err.splitlines() == ["error: models.yaml:3:3: unknown key 'replicas'; did you mean 'replicaCount'?"]
    assert "recipe" not in err.lower() and out == ""
    assert (project / "models.yaml").read_text() == BAD


def test_success_passes_through_with_flags_after_the_recipe(project):
    (project / "models.yaml").write_text(GOOD)
    code, out, err = just(project, "vllm::list-models", "-o", "json")
    assert code == 0 and '"name": "chat"' in out


def test_unreachable_cluster_is_exit_3_through_the_recipe(project, tmp_path):
    config = tmp_path / "kubeconfig"
    config.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        "clusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]\n"
        "contexts: [{name: c, context: {cluster: c, user: u}}]\nusers: [{name: u, user: {token: t}}]\n")
    code, _, err = just(project, "vllm::status", env={"KUBECONFIG": str(config)})
    assert code == 3, err
    assert len(err.strip().splitlines()) == 1 and "recipe" not in err.lower()


def test_global_flags_work_after_the_command(project):
    (project / "models.yaml").write_text(BAD)
    # --debug after the recipe reaches vllmctl: the same error now comes with its traceback.
    code, _, err = just(project, "vllm::validate", "--debug")
    assert code != 0 and "Traceback" in err and "InvalidModels" in err
    # ... and so does VLLMCTL_DEBUG (also from .env.local, which just loads).
    (project / ".env.local").write_text("VLLMCTL_DEBUG=1\n")
    code, _, err = just(project, "vllm::validate")
    assert "Traceback" in err
    (project / ".env.local").unlink()
    (project / "models.yaml").write_text(GOOD)
    code, out, err = just(project, "vllm::validate", "--quiet")
    assert code == 0 and err == "" and out == ""


def test_exit_code_5_is_not_reported_as_a_failed_recipe(project):
    # Exit 5 ("no changes") needs a release; any vllmctl exit code comes back unchanged, and just
    # adds no line of its own: shown here with a shim that exits 5 as `upgrade --detailed-exit-code` does.
    (project / "bin" / "vllmctl").write_text("#!/bin/sh\necho 'no changes: release vllm is up to date' >&2\n"
                                              "exit 5\n")
    code, _, err = just(project, "vllm::upgrade", "--detailed-exit-code")
    assert code == 5
    assert err.splitlines() == ["no changes: release vllm is up to date"]
