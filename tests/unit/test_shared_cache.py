"""One shared ReadWriteMany model cache (the chart's sharedPvcStorage): the settings' rules, rendering,
preflight, and what `helm template` of every chart version that supports it makes of it."""

from __future__ import annotations

import copy
import dataclasses
import subprocess

import pytest
import yaml

from tests.env.charts import VERSIONS
from tests.helpers import run_cli
from vllmctl.core import shared_cache
from vllmctl.core.models import ModelEntry
from vllmctl.core.preflight import ClusterFacts, NodeFacts, check
from vllmctl.core.render import model_view
from vllmctl.core.settings import Settings

SUPPORTED = [v for v in VERSIONS if tuple(map(int, v.split("."))) >= (0, 1, 11)]


def settings(**kw) -> Settings:
    return dataclasses.replace(Settings(), **kw)


def entry(**kw) -> ModelEntry:
    return ModelEntry.model_validate({"name": "m", "modelURL": "org/m", **kw})


# ---------------------------------------------------------------- settings
def test_settings_that_cannot_work_are_named():
    assert shared_cache.problems(Settings(), "0.1.12") == []
    assert "VLLM_SHARED_CACHE_NFS is set but VLLM_SHARED_CACHE_SIZE is not" in shared_cache.problems(
        settings(shared_cache_nfs="nfs:/x"), "0.1.12")[0]
    old = shared_cache.problems(settings(shared_cache_size="500Gi"), "0.1.10")
    assert old == ["VLLM_SHARED_CACHE_SIZE needs vllm-stack chart 0.1.11 or newer (before it the engines keep caching "
                   "on their own volumes); VLLM_CHART_VERSION is 0.1.10"]
    both = shared_cache.problems(settings(shared_cache_size="1Ti", shared_cache_nfs="nfs.local:/m",
                                          shared_cache_host_path="/mnt"), "0.1.12")
    assert "keep one" in both[0]
    bad = shared_cache.problems(settings(shared_cache_size="1Ti", shared_cache_nfs="nfs.local/m"), "0.1.12")
    assert "SERVER:/PATH" in bad[0]
    assert "absolute" in shared_cache.problems(settings(shared_cache_size="1Ti", shared_cache_host_path="m"),
                                               "0.1.12")[0]


def test_size_is_a_quantity():
    from vllmctl.core.settings import load_settings
    from vllmctl.errors import InvalidInput

    with pytest.raises(InvalidInput, match="VLLM_SHARED_CACHE_SIZE must be a Kubernetes quantity"):
        load_settings({"VLLM_SHARED_CACHE_SIZE": "lots"})


def test_values_for_a_volume_the_release_creates_and_for_a_provisioned_one():
    nfs = shared_cache.of(settings(shared_cache_size="1Ti", shared_cache_nfs="10.0.0.5:/exports/models"))
    assert nfs.static and shared_cache.values(nfs, "vllm") == {
        "enabled": True, "size": "1Ti", "accessModes": ["ReadWriteMany"], "storageClass": "vllm-shared-cache",
        "nfs": {"server": "10.0.0.5", "path": "/exports/models"}}
    dynamic = shared_cache.of(settings(shared_cache_size="1Ti", storage_class="efs"))
    assert not dynamic.static and shared_cache.values(dynamic, "vllm") == {
        "enabled": True, "size": "1Ti", "accessModes": ["ReadWriteMany"], "storageClass": "efs"}
    assert shared_cache.of(Settings()) is None


# ---------------------------------------------------------------- models and rendering
def test_a_models_own_cache_volume_is_refused_beside_the_shared_one():
    assert "would sit unused" in shared_cache.entry_problems(entry(pvcStorage="50Gi"))[0][1]
    assert shared_cache.entry_problems(entry()) == [] and shared_cache.entry_problems(entry(pvcStorage="")) == []
    ray = entry(pvcStorage="1Ti", requestGPU=1, multiNode={"nodes": 2}, vllmConfig={"pipelineParallelSize": 2})
    assert shared_cache.entry_problems(ray) == []
    assert "does not mount the shared cache" in shared_cache.warnings(ray)[0]


def test_models_on_the_shared_cache_render_no_claim_of_their_own():
    s = settings(shared_cache_size="1Ti")
    assert model_view(entry(), s, hf_token=False)["pvcStorage"] is None
    assert model_view(entry(), Settings(), hf_token=False)["pvcStorage"] == "50Gi"


# ---------------------------------------------------------------- preflight
def _facts(classes=(), default=None):
    return ClusterFacts(nodes=[NodeFacts("n", {"nvidia.com/gpu": 4})], storage_classes=list(classes),
                        default_storage_class=default, runtime_classes=["nvidia"])


def _run(cache, facts, models=None):
    return {f.rule: f.message for f in check(models or [entry()], facts, storage_class="", runtime_class="nvidia",
                                              update_strategy="Recreate", shared=cache)}


def test_preflight_checks_the_shared_caches_class():
    named = shared_cache.of(settings(shared_cache_size="1Ti", shared_cache_storage_class="filestore"))
    assert "StorageClass 'filestore' does not exist (the cluster has: std)" in _run(named, _facts(["std"]))[
        "shared-cache-class"]
    assert set(_run(named, _facts(["filestore"]))) == {"shared-cache-rwx"}
    default = shared_cache.of(settings(shared_cache_size="1Ti"))
    assert "no default one" in _run(default, _facts())["shared-cache-class"]
    static = shared_cache.of(settings(shared_cache_size="1Ti", shared_cache_host_path="/mnt/models"))
    assert _run(static, _facts()) == {}  # nor the models' own default-class warning: they have no claim
    assert "default-storage-class" in _run(None, _facts())


# ---------------------------------------------------------------- the real chart
MODELS = """\
- name: chat
  modelURL: Qwen/Qwen2.5-7B-Instruct
  hfTokenRequired: false
  requestGPU: 1
- name: small
  modelURL: Qwen/Qwen2.5-0.5B-Instruct
  hfTokenRequired: false
  requestGPU: 1
"""


def _docs(tmp_path, helm_bin, chart, version: str, env: dict, change=None) -> list[dict]:
    (tmp_path / "models.yaml").write_text(MODELS)
    r = run_cli("render", "-d", "out", cwd=tmp_path, env={"VLLM_CHART_VERSION": version, "VLLM_CHART": str(chart),
                                                          **env})
    assert r.code == 0, r.output
    values = yaml.safe_load((tmp_path / "out" / "values.yaml").read_text())
    if change:
        change(values)
    proc = subprocess.run([helm_bin, "template", "vllm", str(chart), "--values", "-"], input=yaml.safe_dump(values),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return [d for d in yaml.safe_load_all(proc.stdout) if d]


@pytest.mark.parametrize("version", SUPPORTED)
def test_every_engine_caches_on_the_one_shared_claim(tmp_path, helm_bin, real_chart, version):
    docs = _docs(tmp_path, helm_bin, real_chart(version), version,
                 {"VLLM_SHARED_CACHE_SIZE": "1Ti", "VLLM_SHARED_CACHE_NFS": "nfs.example.com:/exports/models"})
    claims = {d["metadata"]["name"]: d for d in docs if d["kind"] == "PersistentVolumeClaim"}
    assert list(claims) == ["vllm-shared-pvc-storage-claim"]  # no claim per model
    claim = claims["vllm-shared-pvc-storage-claim"]["spec"]
    [volume] = [d for d in docs if d["kind"] == "PersistentVolume"]
    assert volume["spec"]["nfs"] == {"server": "nfs.example.com", "path": "/exports/models"}
    assert claim["volumeName"] == volume["metadata"]["name"] == "vllm-shared-pvc-storage"
    assert claim["accessModes"] == volume["spec"]["accessModes"] == ["ReadWriteMany"]
    assert claim["storageClassName"] == volume["spec"]["storageClassName"] == "vllm-shared-cache"
    assert claim["resources"]["requests"]["storage"] == "1Ti"
    for model in ("chat", "small"):
        pod = next(d for d in docs if d["metadata"]["name"] == f"vllm-{model}-deployment-vllm")["spec"]["template"]
        engine = next(c for c in pod["spec"]["containers"] if c["name"] == "vllm")
        env = {e["name"]: e.get("value") for e in engine["env"]}
        mounts = {m["name"]: m["mountPath"] for m in engine["volumeMounts"]}
        volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
        assert env["HF_HOME"] == "/data/shared-pvc-storage" == mounts["vllm-shared-pvc-storage"]
        claim_ref = volumes["vllm-shared-pvc-storage"]["persistentVolumeClaim"]
        assert claim_ref["claimName"] == "vllm-shared-pvc-storage-claim"


@pytest.mark.parametrize("version", [SUPPORTED[-1]])
def test_a_provisioned_shared_cache_and_the_chart_check(tmp_path, helm_bin, real_chart, version):
    docs = _docs(tmp_path, helm_bin, real_chart(version), version,
                 {"VLLM_SHARED_CACHE_SIZE": "1Ti", "VLLM_SHARED_CACHE_STORAGE_CLASS": "efs"})
    assert not [d for d in docs if d["kind"] == "PersistentVolume"]
    claim = next(d for d in docs if d["kind"] == "PersistentVolumeClaim")["spec"]
    assert claim["storageClassName"] == "efs" and "volumeName" not in claim
    # values where the chart's shared cache is off, as a values overlay could make them: the check says so
    from vllmctl.core import chart_lint
    from vllmctl.core.models_file import parse_document, validate_document
    from vllmctl.core.render import RenderRequest, render

    s = settings(shared_cache_size="1Ti", chart_version=version)
    doc = parse_document(MODELS, "models.yaml")
    rendered = render(RenderRequest(models=validate_document(doc, release="vllm", chart_version=version), settings=s,
                                    chart_version=version, source="t"))
    values = copy.deepcopy(rendered.values)
    values["sharedPvcStorage"]["enabled"] = False
    proc = subprocess.run([helm_bin, "template", "vllm", str(real_chart(version)), "--values", "-"],
                          input=yaml.safe_dump(values), capture_output=True, text=True, timeout=120)
    found = [str(f) for f in chart_lint.errors(chart_lint.lint(chart_lint.LintInput(proc.stdout, rendered.request,
                                                                                     doc)))]
    assert len(found) == 2 and all("HF_HOME is '/tmp', not the shared cache" in f for f in found), found
    assert found[0].startswith("models.yaml:1:")
