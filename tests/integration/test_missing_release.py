"""A release that is not there is exit 2 for every command that needs one, with one line naming the
release and namespace (the fix is a setting: --release / --namespace, or install first);
uninstall of a missing release is done already (exit 0), and diff shows what an install would add."""

from __future__ import annotations

import pytest

from tests.integration.deploy_helpers import model, write_models

NEEDS_RELEASE = [
    ("upgrade",), ("rollback",), ("history",), ("status",), ("endpoints",), ("logs", "alpha"),
    ("router-logs",), ("list-api-models",), ("smoke",), ("test-completions", "alpha", "hi"),
]


@pytest.mark.parametrize("args", NEEDS_RELEASE, ids=lambda a: a[0])
def test_a_missing_release_is_exit_2_everywhere(tmp_path, kube_env, namespace, args, cli):
    write_models(tmp_path, model("alpha"))
    r = cli(*args, env={"VLLM_RELEASE": "absent", "VLLM_API_KEY": "k",
                                                            "HOME": str(tmp_path)}, timeout=60)
    assert r.code == 2, r.output
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "absent" in lines[0] and namespace in lines[0], r.stderr


def test_uninstalling_a_missing_release_is_already_done(tmp_path, kube_env, namespace, cli):
    r = cli("uninstall", "--yes", env={"VLLM_RELEASE": "absent"})
    assert r.code == 0 and "no release absent" in r.stderr


def test_diff_of_a_missing_release_is_what_install_would_add(tmp_path, kube_env, namespace, cli):
    write_models(tmp_path, model("alpha"))
    r = cli("diff", env={"VLLM_RELEASE": "absent"})
    assert r.code == 0 and "+++ new Deployment/absent-alpha-deployment-vllm" in r.stdout
