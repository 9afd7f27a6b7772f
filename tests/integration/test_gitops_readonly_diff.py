"""`vllmctl diff` as a pull-request check: a ServiceAccount with read-only RBAC is enough for it,
and the same credentials cannot change the release. The RBAC is the example users apply,
examples/ci/rbac/vllm-diff-readonly.yaml, applied as is (namespace aside)."""

from __future__ import annotations

from pathlib import Path

import yaml
from kubernetes import client

from tests.integration.deploy_helpers import BOTH_CHARTS, helm_revisions, model, write_models

RBAC = Path(__file__).resolve().parents[2] / "examples" / "ci" / "rbac" / "vllm-diff-readonly.yaml"


def read_only_kubeconfig(kube_env, namespace: str, directory: Path) -> Path:
    """examples/ci/rbac/vllm-diff-readonly.yaml applied to `namespace`, and a kubeconfig with a token
    of its ServiceAccount."""
    objects = list(yaml.safe_load_all(RBAC.read_text()))
    assert [o["kind"] for o in objects] == ["ServiceAccount", "Role", "RoleBinding"]
    for obj in objects:
        obj["metadata"]["namespace"] = namespace
    sa, role, binding = objects
    binding["subjects"][0]["namespace"] = namespace
    with kube_env.api_client() as api:
        core, rbac = client.CoreV1Api(api), client.RbacAuthorizationV1Api(api)
        core.create_namespaced_service_account(namespace, sa)
        rbac.create_namespaced_role(namespace, role)
        rbac.create_namespaced_role_binding(namespace, binding)
        token = core.create_namespaced_service_account_token(
            sa["metadata"]["name"], namespace, {"spec": {"expirationSeconds": 3600}}).status.token
    config = {
        "apiVersion": "v1", "kind": "Config", "current-context": "ci",
        "clusters": [{"name": "ci", "cluster": {"server": kube_env.server,
                                                "certificate-authority": str(kube_env.ca_file)}}],
        "users": [{"name": "ci-readonly", "user": {"token": token}}],
        "contexts": [{"name": "ci", "context": {"cluster": "ci", "user": "ci-readonly", "namespace": namespace}}],
    }
    path = directory / "readonly.kubeconfig"
    path.write_text(yaml.safe_dump(config))
    path.chmod(0o600)
    return path


@BOTH_CHARTS
def test_readonly_diff(tmp_path, cli, kube_env, helm_bin, namespace):
    kube_env.kubelet.auto_ready(namespace)
    write_models(tmp_path, model("alpha"))
    installed = cli("install", "--no-wait")
    assert installed.code == 0, installed.output
    kubeconfig = read_only_kubeconfig(kube_env, namespace, tmp_path)
    readonly = {"KUBECONFIG": str(kubeconfig), "HELM_KUBECONTEXT": "ci", "CI": "true"}

    same = cli("diff", "--exit-code", env=readonly)
    assert same.code == 0, same.output

    write_models(tmp_path, model("alpha", vllmConfig={"maxModelLen": 4096}))
    changed = cli("diff", "--exit-code", env=readonly)
    assert changed.code == 1, changed.output
    assert "Deployment/vllm-alpha-deployment-vllm" in changed.stdout

    refused = cli("upgrade", "--yes", env=readonly)
    assert refused.code != 0, refused.output
    errors = [line for line in refused.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "403 Forbidden" in errors[0], refused.stderr
    assert "Traceback" not in refused.output
    assert [r["revision"] for r in helm_revisions(kube_env, helm_bin, namespace)] == [1]
