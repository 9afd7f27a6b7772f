"""A person at an 80-column terminal: diff in colour (never piped or with NO_COLOR), uninstall that asks."""

from __future__ import annotations

from tests.cli.tty import TTYSession
from tests.integration.deploy_helpers import helm_revisions, model, write_models

GREEN, RED = "\x1b[32m", "\x1b[31m"


def test_diff_colours_on_a_terminal_and_uninstall_asks(tmp_path, kube_env, helm_bin, namespace, cli):
    kube_env.kubelet.auto_ready(namespace)
    write_models(tmp_path, model("alpha", pvcStorage=""))
    assert cli("install").code == 0
    write_models(tmp_path, model("alpha", pvcStorage="", requestMemory="2Gi"))
    env = cli.env()

    session = TTYSession("diff", cwd=tmp_path, env=env)
    assert session.wait(timeout=120) == 0, session.seen
    assert f"{GREEN}+            memory: 2Gi" in session.seen and f"{RED}-            memory: 1Gi" in session.seen

    plain = TTYSession("diff", cwd=tmp_path, env={**env, "NO_COLOR": "1"})
    assert plain.wait(timeout=120) == 0
    assert "2Gi" in plain.seen and GREEN not in plain.seen and RED not in plain.seen
    piped = cli("diff")
    assert "\x1b[" not in piped.stdout and "2Gi" in piped.stdout

    declined = TTYSession("uninstall", cwd=tmp_path, env=env)
    declined.expect("Uninstall release vllm from namespace")
    declined.send("n")
    assert declined.wait(timeout=60) == 0 and "nothing changed" in declined.seen
    assert helm_revisions(kube_env, helm_bin, namespace)  # still installed

    accepted = TTYSession("uninstall", cwd=tmp_path, env=env)
    accepted.expect("Uninstall release vllm from namespace")
    accepted.send("y")
    assert accepted.wait(timeout=120) == 0, accepted.seen
    assert helm_revisions(kube_env, helm_bin, namespace) == []
