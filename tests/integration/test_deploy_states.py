"""--dry-run writes nothing; a release stuck in a pending state names the way out; the API key Secret."""

from __future__ import annotations

import base64
import gzip
import json

from kubernetes import client

from tests.helpers import run_cli
from tests.integration.deploy_helpers import helm_revisions, model, write_models


def test_dry_run_writes_nothing(tmp_path, cli, kube_env, helm_bin, namespace):
    write_models(tmp_path, model("alpha"))
    ns = namespace[:40] + "-dry"  # does not exist: a dry run must not create it
    r = cli("install", "--dry-run", ns=ns)
    assert r.code == 0, r.output
    assert "+kind: Deployment" in r.stdout and "new Deployment/vllm-alpha-deployment-vllm" in r.stdout
    assert "nothing was written" in r.stderr
    with kube_env.api_client() as api:
        names = [n.metadata.name for n in client.CoreV1Api(api).list_namespace().items]
    assert ns not in names


def _set_status(kube_env, namespace, status):
    """What an interrupted helm leaves behind: the newest release record in a pending state."""
    with kube_env.api_client() as api:
        core = client.CoreV1Api(api)
        secret = max(core.list_namespaced_secret(namespace, label_selector="owner=helm").items,
                     key=lambda s: int(s.metadata.labels["version"]))
        raw = base64.b64decode(base64.b64decode(secret.data["release"]))
        release = json.loads(gzip.decompress(raw))
        release["info"]["status"] = status
        packed = base64.b64encode(gzip.compress(json.dumps(release).encode())).decode()
        core.patch_namespaced_secret(secret.metadata.name, namespace, {
            "metadata": {"labels": {"status": status}},
            "data": {"release": base64.b64encode(packed.encode()).decode()}})


def test_pending_release_names_the_way_out(tmp_path, cli, kube_env, helm_bin, namespace):
    write_models(tmp_path, model("alpha", pvcStorage=""))
    assert cli("install", "--no-wait").code == 0
    _set_status(kube_env, namespace, "pending-install")
    r = cli("upgrade")
    assert r.code == 1, r.output
    assert "stuck in pending-install (revision 1)" in r.stderr
    assert "vllmctl uninstall" in r.stderr and f"helm uninstall vllm -n {namespace}" in r.stderr
    assert len(helm_revisions(kube_env, helm_bin, namespace)) == 1


def test_api_key_referenced_not_inlined(tmp_path, cli, kube_env, helm_bin, namespace):
    write_models(tmp_path, model("alpha", pvcStorage=""))
    r = cli("install", "--no-wait", env={"VLLM_API_KEY_ENABLED": "true"})
    assert r.code == 0, r.output
    with kube_env.api_client() as api:
        core = client.CoreV1Api(api)
        key = base64.b64decode(core.read_namespaced_secret("vllm-api-key", namespace).data["api-key"]).decode()
        dep = client.AppsV1Api(api).read_namespaced_deployment("vllm-alpha-deployment-vllm", namespace)
        env = {e.name: e for e in dep.spec.template.spec.containers[0].env}
        assert env["VLLM_API_KEY"].value_from.secret_key_ref.name == "vllm-api-key"
        helm_records = core.list_namespaced_secret(namespace, label_selector="owner=helm").items
    for record in helm_records:
        release = gzip.decompress(base64.b64decode(base64.b64decode(record.data["release"]))).decode()
        assert key not in release
    assert key not in r.output


def test_upgrade_keeps_the_releases_api_key_choice_unless_told(tmp_path, cli, kube_env, helm_bin, namespace):
    write_models(tmp_path, model("alpha", pvcStorage=""))
    # neither --api-key/--no-api-key nor VLLM_API_KEY_ENABLED: an upgrade keeps what is deployed
    env = {k: v for k, v in cli.env().items() if k != "VLLM_API_KEY_ENABLED"}

    def upgrade(*flags):
        return run_cli("upgrade", "--no-wait", "--detailed-exit-code", *flags, cwd=tmp_path, env=env)

    assert run_cli("install", "--no-wait", "--no-api-key", cwd=tmp_path, env=env).code == 0
    r = upgrade()
    assert r.code == 5, r.output  # nothing to change: still no API key
    r = upgrade("--api-key")
    assert r.code == 0, r.output
    with kube_env.api_client() as api:
        dep = client.AppsV1Api(api).read_namespaced_deployment("vllm-alpha-deployment-vllm", namespace)
    assert "VLLM_API_KEY" in {e.name for e in dep.spec.template.spec.containers[0].env}
    r = upgrade()
    assert r.code == 5, r.output  # and now the key stays on


def test_install_asks_the_api_key_question_on_a_tty(tmp_path, cli, kube_env, namespace):
    from tests.cli.tty import TTYSession

    write_models(tmp_path, model("alpha", pvcStorage=""))
    env = {k: v for k, v in cli.env().items() if k != "VLLM_API_KEY_ENABLED"}
    session = TTYSession("install", "--no-wait", cwd=tmp_path, env=env)
    session.expect("Protect the endpoint with an API key")
    session.send("n")
    assert session.wait(timeout=120) == 0, session.seen
    with kube_env.api_client() as api:
        dep = client.AppsV1Api(api).read_namespaced_deployment("vllm-alpha-deployment-vllm", namespace)
    assert "VLLM_API_KEY" not in {e.name for e in dep.spec.template.spec.containers[0].env}
