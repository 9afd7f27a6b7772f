"""The shared model cache installed with the real chart (0.1.12) on the local control plane: a
hostPath PersistentVolume the release creates, its ReadWriteMany claim bound to it by the real
controller-manager, and every engine mounting that one claim as HF_HOME (no claim per model)."""

from __future__ import annotations

import contextlib
import time

from kubernetes import client

from tests.integration.deploy_helpers import model, write_models


def test_every_engine_mounts_the_one_shared_claim(tmp_path, cli, namespace):
    entries = [model("chat"), model("small")]
    for entry in entries:  # the helper gives each a cache volume of its own, which the shared one replaces
        del entry["pvcStorage"]
    write_models(tmp_path, *entries)
    env = {"VLLM_SHARED_CACHE_SIZE": "10Gi", "VLLM_SHARED_CACHE_HOST_PATH": "/var/lib/vllm-models"}
    volume = "vllm-shared-pvc-storage"
    try:
        r = cli("install", "--no-wait", env=env)
        assert r.code == 0, r.output
        with cli.kube_env.api_client() as api:
            core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
            pv = core.read_persistent_volume(volume)
            assert pv.spec.host_path.path == "/var/lib/vllm-models" and pv.spec.access_modes == ["ReadWriteMany"]
            claims = {c.metadata.name: c for c in core.list_namespaced_persistent_volume_claim(namespace).items}
            assert list(claims) == ["vllm-shared-pvc-storage-claim"]
            deadline = time.monotonic() + 60
            while core.read_namespaced_persistent_volume_claim(
                    "vllm-shared-pvc-storage-claim", namespace).status.phase != "Bound":
                assert time.monotonic() < deadline, "the shared claim never bound to its volume"
                time.sleep(0.5)
            for name in ("chat", "small"):
                spec = apps.read_namespaced_deployment(f"vllm-{name}-deployment-vllm", namespace).spec.template.spec
                engine = next(c for c in spec.containers if c.name == "vllm")
                assert {e.name: e.value for e in engine.env}["HF_HOME"] == "/data/shared-pvc-storage"
                claim = next(v for v in spec.volumes if v.name == volume).persistent_volume_claim
                assert claim.claim_name == "vllm-shared-pvc-storage-claim"
    finally:  # the volume is cluster-wide: namespace deletion leaves it
        with cli.kube_env.api_client() as api, contextlib.suppress(client.exceptions.ApiException):
            client.CoreV1Api(api).delete_persistent_volume(volume)


def test_a_models_own_cache_beside_the_shared_one_is_refused_at_its_line(tmp_path, cli):
    write_models(tmp_path, model("chat"))  # the helper gives it pvcStorage: 1Gi
    r = cli("install", env={"VLLM_SHARED_CACHE_SIZE": "10Gi", "VLLM_SHARED_CACHE_HOST_PATH": "/var/lib/m"})
    assert r.code == 2, r.output
    line = next(i for i, t in enumerate((tmp_path / "models.yaml").read_text().splitlines(), 1) if "pvcStorage" in t)
    assert f"models.yaml:{line}:" in r.stderr and "would sit unused" in r.stderr


def test_the_shared_cache_needs_chart_0_1_11(tmp_path, kube_env, namespace, test_server_chart):
    from tests.integration.deploy_helpers import vllmctl

    write_models(tmp_path, model("chat", pvcStorage=""))
    r = vllmctl(tmp_path, kube_env, namespace, "install", env={
        "VLLM_CHART": str(test_server_chart("0.1.8")), "VLLM_SHARED_CACHE_SIZE": "10Gi"})
    assert r.code == 2, r.output
    assert "VLLM_SHARED_CACHE_SIZE needs vllm-stack chart 0.1.11 or newer" in r.stderr
