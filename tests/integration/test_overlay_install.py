"""install / upgrade / diff with a values overlay, on the real API server with the real chart: the
merged values reach the cluster, an unchanged overlay (nulls included) is "no changes", and an
overlay change shows in diff; a bad overlay stops install before it touches the cluster."""

from __future__ import annotations

from kubernetes import client

from tests.integration.deploy_helpers import helm_revisions, model, vllmctl, write_models

VERSION = "0.1.12"
OVERLAY = """servingEngineSpec:
  labels:
    team: overlay
  containerSecurityContext: null
routerSpec:
  podAnnotations:
    overlay/router: "yes"
"""


def test_install_applies_the_overlay_and_upgrade_sees_no_change(tmp_path, kube_env, helm_bin, namespace,
                                                                test_server_chart):
    kube_env.kubelet.auto_ready(namespace)
    env = {"VLLM_CHART": str(test_server_chart(VERSION)), "VLLM_CHART_VERSION": VERSION}
    write_models(tmp_path, model("alpha", modelSpec={"podLabels": {"overlay-pod": "yes"},
                                                     "serviceAccountName": "default"}))
    (tmp_path / "values.override.yaml").write_text(OVERLAY)

    r = vllmctl(tmp_path, kube_env, namespace, "install", "--no-wait", env=env)
    assert r.code == 0, r.output
    assert "values overlay: values.override.yaml" in r.stderr
    with kube_env.api_client() as api:
        apps = client.AppsV1Api(api)
        engine = apps.read_namespaced_deployment("vllm-alpha-deployment-vllm", namespace)
        assert engine.metadata.labels["team"] == "overlay"
        pod = engine.spec.template.spec
        assert engine.spec.template.metadata.labels["overlay-pod"] == "yes"
        assert pod.service_account_name == "default"
        assert pod.containers[0].security_context is None  # the chart's default deleted by null
        router = apps.read_namespaced_deployment("vllm-deployment-router", namespace)
        assert router.spec.template.metadata.annotations["overlay/router"] == "yes"

    same = vllmctl(tmp_path, kube_env, namespace, "upgrade", "--detailed-exit-code", env=env)
    assert same.code == 5, same.output
    assert len(helm_revisions(kube_env, helm_bin, namespace)) == 1

    (tmp_path / "values.override.yaml").write_text(OVERLAY.replace("team: overlay", "team: changed"))
    diff = vllmctl(tmp_path, kube_env, namespace, "diff", "--exit-code", env=env)
    assert diff.code == 1 and "changed" in diff.stdout, diff.output

    (tmp_path / "values.override.yaml").write_text("routerSpec:\n  replicaCount: 3\n")
    bad = vllmctl(tmp_path, kube_env, namespace, "upgrade", env=env)
    assert bad.code == 2 and "values.override.yaml:2:3:" in bad.stderr, bad.output
    assert len(helm_revisions(kube_env, helm_bin, namespace)) == 1
