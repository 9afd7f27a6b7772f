"""Chart sources: a Helm repository (served locally), `chart pull` into charts/, add/remove-helm-repo."""

from __future__ import annotations

import functools
import shutil
import subprocess
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.integration.deploy_helpers import NEWEST_CHART, helm_revisions, model, write_models


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def chart_repo(tmp_path_factory, helm_bin, real_chart):
    """A Helm repository on 127.0.0.1 holding the real chart package (with its index.yaml)."""
    root = tmp_path_factory.mktemp("repo")
    shutil.copy(real_chart(NEWEST_CHART), root)
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(root)))
    url = f"http://127.0.0.1:{server.server_address[1]}"
    subprocess.run([helm_bin, "repo", "index", str(root), "--url", url], check=True, capture_output=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield url
    server.shutdown()


def test_repo_chart_pull_and_vendored_install(tmp_path, cli, kube_env, helm_bin, namespace, chart_repo):
    write_models(tmp_path, model("alpha", pvcStorage=""))
    repo_env = {"VLLM_CHART": "", "VLLM_CHART_REPO": chart_repo, "VLLM_CHART_VERSION": NEWEST_CHART}
    r = cli("install", "--no-wait", env=repo_env)
    assert r.code == 0, r.output
    assert f"vllm-stack 0.1.12 from {chart_repo}" in r.stderr

    pulled = cli("chart", "pull", env=repo_env)
    assert pulled.code == 0, pulled.output
    assert (tmp_path / "charts" / "vllm-stack-0.1.12.tgz").is_file()

    # the vendored chart is used while it is there: the repository can be gone (air-gapped)
    offline = {**repo_env, "VLLM_CHART_REPO": "http://127.0.0.1:9/nowhere"}
    write_models(tmp_path, model("alpha", pvcStorage="", replicaCount=2))
    up = cli("upgrade", "--no-wait", env=offline)
    assert up.code == 0, up.output
    assert "charts/vllm-stack-0.1.12.tgz" in up.stderr
    assert [x["chart"] for x in helm_revisions(kube_env, helm_bin, namespace)] == ["vllm-stack-0.1.12"] * 2


def test_missing_local_chart_is_one_line(tmp_path, cli, kube_env, namespace):
    write_models(tmp_path, model("alpha"))
    r = cli("install", env={"VLLM_CHART": str(tmp_path / "nope")})
    assert r.code == 2 and "no such chart directory or archive" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_add_and_remove_helm_repo(tmp_path, cli, kube_env, namespace, chart_repo):
    env = {"VLLM_CHART_REPO": chart_repo}
    assert cli("add-helm-repo", env=env).code == 0
    listed = subprocess.run(["helm", "repo", "list", "-o", "json"], capture_output=True, text=True,
                            env={**__import__("os").environ, **kube_env.env()})
    assert {"name": "vllm", "url": chart_repo} in __import__("json").loads(listed.stdout)
    assert "removed" in cli("remove-helm-repo").stderr
    assert "no helm repository" in cli("remove-helm-repo").stderr
