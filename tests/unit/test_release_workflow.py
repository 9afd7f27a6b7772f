"""workflows.release_ops against an in-memory cluster (tests/fakes): which claims are the release's."""

from __future__ import annotations

from tests.fakes.ports import FakeKube
from vllmctl.core.settings import Settings
from vllmctl.workflows.release_ops import release_claims


def _claim(name: str, release: str | None) -> dict:
    annotations = {"meta.helm.sh/release-name": release} if release else {}
    return {"metadata": {"name": name, "namespace": "vllm", "annotations": annotations}}


def test_claims_are_the_release_s_by_helm_s_annotation_not_by_name():
    kube = FakeKube(pvcs=[_claim("vllm-alpha-storage-claim", "vllm"),
                          _claim("vllm-b-alpha-storage-claim", "vllm-b"),  # the name starts like ours
                          _claim("vllm-hand-made", None)])
    found = release_claims(kube, Settings(release="vllm", namespace="vllm"))
    assert [c["metadata"]["name"] for c in found] == ["vllm-alpha-storage-claim"]
    assert [c["metadata"]["name"] for c in release_claims(kube, Settings(release="vllm-b", namespace="vllm"))] == [
        "vllm-b-alpha-storage-claim"]
