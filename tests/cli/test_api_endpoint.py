"""Without --url the commands port-forward to the router Service; with no stack installed that fails
with one line naming the Service (the forward itself needs kubelet streaming, which the test
cluster lacks, so the commands' other tests use --url)."""

from __future__ import annotations

import pytest

from tests.helpers import run_cli

pytestmark = pytest.mark.real


def test_no_router_service_is_one_clear_line(kube_env, namespace, tmp_path):
    r = run_cli("list-api-models", env={**kube_env.env(), "VLLM_NAMESPACE": namespace, "VLLM_RELEASE": "demo",
                                        "VLLM_API_KEY": "k", "HOME": str(tmp_path)})
    assert r.code == 2, r.output  # a missing release is exit 2 everywhere
    assert "demo-router-service" in r.stderr and namespace in r.stderr
    assert "pass --url / VLLM_URL instead." in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr


def test_router_disabled_needs_a_url(tmp_path):
    r = run_cli("smoke", "m", env={"VLLM_ROUTER_ENABLED": "false", "HOME": str(tmp_path)})
    assert r.code == 2 and "--url" in r.stderr
