"""check-prerequisites says only what it asked: a chart repository is ticked when its index lists the
chart, Vault when the real OpenBao answered; what it could not reach fails (exit 3), what it did not
ask has no tick."""

from __future__ import annotations

import http.server
import json
import socket
import threading

import pytest

from tests.integration.deploy_helpers import model, vllmctl, write_models


@pytest.fixture
def chart_repo():
    """A Helm repository index on 127.0.0.1 listing vllm-stack 0.1.8 and 0.1.12 (the default) only."""
    index = (b"apiVersion: v1\nentries:\n  vllm-stack:\n  - name: vllm-stack\n    version: 0.1.8\n"
             b"  - name: vllm-stack\n    version: 0.1.12\n")

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's name
            found = self.path == "/index.yaml"
            self.send_response(200 if found else 404)
            self.end_headers()
            self.wfile.write(index if found else b"")

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def checks(result) -> dict:
    return {c["name"]: c for c in json.loads(result.stdout)}


def test_repository_and_vault_are_ticked_only_when_asked(tmp_path, kube_env, namespace, vault_env, chart_repo):
    write_models(tmp_path, model("alpha"))
    repo = {"VLLM_CHART": "", "VLLM_CHART_REPO": chart_repo, "HOME": str(tmp_path)}
    r = vllmctl(tmp_path, kube_env, namespace, "check-prerequisites", "-o", "json",
                env={**repo, "VAULT_ADDR": vault_env.addr, "VAULT_TOKEN": vault_env.token})
    assert r.code == 0, r.output
    got = checks(r)
    assert got["chart"]["ok"] and got["chart"]["checked"]
    assert "listed in the repository's index" in got["chart"]["detail"]
    assert got["vault"]["checked"] and "unsealed, token accepted, secret/ is KV v2" in got["vault"]["detail"]

    # Without a token Vault is still probed (health needs none), and says what it could not check.
    r = vllmctl(tmp_path, kube_env, namespace, "check-prerequisites", "-o", "json",
                env={**repo, "VAULT_ADDR": vault_env.addr})
    assert "no token to check" in checks(r)["vault"]["detail"]

    # A version the repository does not list is a failure, not a tick.
    r = vllmctl(tmp_path, kube_env, namespace, "check-prerequisites", env={**repo, "VLLM_CHART_VERSION": "0.1.9"})
    assert r.code == 1 and "error: chart: the chart repository" in r.stderr and "no vllm-stack 0.1.9" in r.stderr

    # No VAULT_ADDR: reported without a tick.
    r = vllmctl(tmp_path, kube_env, namespace, "check-prerequisites", env=repo)
    assert "- vault: VAULT_ADDR not set" in r.stderr and "✓ vault" not in r.stderr


def test_unreachable_repository_and_vault_fail_with_exit_3(tmp_path, kube_env, namespace):
    write_models(tmp_path, model("alpha"))
    down = f"http://127.0.0.1:{closed_port()}"
    r = vllmctl(tmp_path, kube_env, namespace, "check-prerequisites",
                env={"VLLM_CHART": "", "VLLM_CHART_REPO": down, "VAULT_ADDR": down, "HOME": str(tmp_path)})
    assert r.code == 3, r.output
    assert f"error: chart: cannot reach the chart repository {down}" in r.stderr
    assert f"error: vault: cannot reach Vault at {down}" in r.stderr
    assert "✓ chart" not in r.stderr and "✓ vault" not in r.stderr
    assert "✓ cluster" in r.stderr  # the other checks still ran
