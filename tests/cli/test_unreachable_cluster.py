"""An unreachable cluster is one line naming the context and the server, exit 3, for every command
that needs one; commands that need none do not care."""

from __future__ import annotations

import pytest

from tests.helpers import run_cli

KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters:
- name: gone
  cluster: {server: "https://127.0.0.1:1", insecure-skip-tls-verify: true}
users:
- name: me
  user: {token: not-a-real-token}
contexts:
- name: prod-gpu
  context: {cluster: gone, user: me}
current-context: prod-gpu
"""


@pytest.mark.parametrize("args", [["install", "--yes"], ["upgrade", "--yes"], ["diff"], ["status"], ["preflight"],
                                  ["uninstall", "--yes"], ["history"]])
def test_unreachable_cluster_is_one_line(tmp_path, args):
    (tmp_path / "kubeconfig").write_text(KUBECONFIG)
    (tmp_path / "models.yaml").write_text("- name: a\n  modelURL: org/a\n  hfTokenRequired: false\n")
    result = run_cli(*args, cwd=tmp_path, env={"KUBECONFIG": str(tmp_path / "kubeconfig")}, timeout=60)
    assert result.code == 3, (args, result.output)
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, result.stderr
    assert "https://127.0.0.1:1" in lines[0] and "prod-gpu" in lines[0], lines[0]
    assert "Traceback" not in result.output and "not-a-real-token" not in result.output


def test_no_kubeconfig_at_all_says_how_to_get_one(tmp_path):
    (tmp_path / "models.yaml").write_text("- name: a\n  modelURL: org/a\n")
    result = run_cli("status", cwd=tmp_path, env={"HOME": str(tmp_path)})
    assert result.code == 2 and "no Kubernetes credentials: set KUBECONFIG" in result.stderr
