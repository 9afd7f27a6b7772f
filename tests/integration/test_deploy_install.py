"""install / upgrade against the real API server with the real helm and the real chart."""

from __future__ import annotations

import json

from kubernetes import client

from tests.integration.deploy_helpers import BOTH_CHARTS, helm_revisions, model, write_models


@BOTH_CHARTS
def test_install_objects_and_ready(tmp_path, cli, kube_env, helm_bin, namespace):
    kube_env.kubelet.auto_ready(namespace)
    write_models(tmp_path, model("alpha"), model("beta", pvcAccessMode="ReadWriteMany"))
    r = cli("install")
    assert r.code == 0, r.output
    assert "alpha" in r.stderr and "beta" in r.stderr
    assert f"vllm-router-service.{namespace}.svc.cluster.local" in r.stderr
    with kube_env.api_client() as api:
        apps = client.AppsV1Api(api)
        dep = apps.read_namespaced_deployment("vllm-alpha-deployment-vllm", namespace)
        argv = dep.spec.template.spec.containers[0].command
        assert argv[argv.index("--served-model-name") + 1] == "alpha"
        assert "--enable-prefix-caching" in argv
        # the watch waited for the chart's probes to pass (the fake kubelet keeps pods unready a while)
        for name in ("vllm-alpha-deployment-vllm", "vllm-beta-deployment-vllm", "vllm-deployment-router"):
            assert apps.read_namespaced_deployment(name, namespace).status.ready_replicas == 1, name
        core = client.CoreV1Api(api)
        core.read_namespaced_service("vllm-router-service", namespace)
        pvc = core.read_namespaced_persistent_volume_claim("vllm-alpha-storage-claim", namespace)
        assert pvc.metadata.annotations["helm.sh/resource-policy"] == "keep"
        beta = core.read_namespaced_persistent_volume_claim("vllm-beta-storage-claim", namespace)
        assert beta.spec.access_modes == ["ReadWriteMany"]
        labels = core.read_namespace(namespace).metadata.labels
        assert labels["pod-security.kubernetes.io/enforce"] == "baseline"
    assert [r["revision"] for r in helm_revisions(kube_env, helm_bin, namespace)] == [1]


@BOTH_CHARTS
def test_model_without_cache_volume_becomes_ready(tmp_path, cli, kube_env, namespace):
    kube_env.kubelet.auto_ready(namespace)
    write_models(tmp_path, model("nocache", pvcStorage=""))
    r = cli("install")
    assert r.code == 0, r.output
    with kube_env.api_client() as api:
        pod_spec = client.AppsV1Api(api).read_namespaced_deployment(
            "vllm-nocache-deployment-vllm", namespace).spec.template.spec
        assert not [v for v in pod_spec.volumes or [] if v.persistent_volume_claim]
        assert not client.CoreV1Api(api).list_namespaced_persistent_volume_claim(namespace).items


@BOTH_CHARTS
def test_upgrade_revisions(tmp_path, cli, kube_env, helm_bin, namespace):
    kube_env.kubelet.auto_ready(namespace)
    write_models(tmp_path, model("alpha"))
    assert cli("install", "--no-wait").code == 0

    same = cli("upgrade", "--detailed-exit-code")
    assert same.code == 5, same.output
    assert "no changes" in same.stderr
    assert len(helm_revisions(kube_env, helm_bin, namespace)) == 1

    write_models(tmp_path, model("alpha", vllmConfig={"maxModelLen": 4096}))
    diff = cli("diff", "--exit-code")
    assert diff.code == 1, diff.output
    assert "+        - '4096'" in diff.stdout or "4096" in diff.stdout
    assert "Deployment/vllm-alpha-deployment-vllm" in diff.stdout

    up = cli("upgrade")
    assert up.code == 0, up.output
    assert [r["revision"] for r in helm_revisions(kube_env, helm_bin, namespace)] == [1, 2]
    assert cli("diff", "--exit-code").code == 0

    history = cli("history", "-o", "json")
    rows = json.loads(history.stdout)
    assert [(x["revision"], x["status"]) for x in rows] == [(1, "superseded"), (2, "deployed")]
    assert [x["rollout"] for x in rows] == [None, "ready"]  # 1 went in with --no-wait: nobody watched it
    back = cli("rollback")
    assert back.code == 0, back.output
    assert "now revision 3" in back.stderr
    assert cli("diff", "--exit-code").code == 1  # models.yaml is ahead again


def test_upgrade_without_release(tmp_path, cli, kube_env, helm_bin, namespace):
    write_models(tmp_path, model("alpha"))
    r = cli("upgrade")
    assert r.code == 2, r.output
    assert "run `vllmctl install` first" in r.stderr
    assert "Traceback" not in r.output


def test_install_smoke_checks_every_model_through_the_endpoint(tmp_path, cli, kube_env, namespace):
    from tests.fakes.openai_server import FakeOpenAI

    kube_env.kubelet.auto_ready(namespace)
    write_models(tmp_path, model("alpha"), model("beta"))
    with FakeOpenAI(models=["alpha", "beta"]) as server:
        ok = cli("install", "--smoke", "--url", server.url, "-o", "json")
        assert ok.code == 0, ok.output
        assert [c["model"] for c in json.loads(ok.stdout)["smoke"] if c["ok"]] == ["alpha", "beta"]
    with FakeOpenAI(models=["alpha"]) as server:  # beta is not served: the smoke test fails the upgrade job
        bad = cli("upgrade", "--smoke", "--url", server.url)
    assert bad.code == 1
    assert "beta" in bad.stderr and "smoke test: 1 of 2 models failed (beta)" in bad.stderr
    assert "no changes" in bad.stderr
