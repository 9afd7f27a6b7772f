"""Multi-node models through the real chart: what `helm template` of every version makes of a
multiNode entry (a RayCluster with its GPUs per node, /dev/shm in every pod, the parallelism in the
head's start script), and what the chart check says when the values break the GPU math."""

from __future__ import annotations

import subprocess

import pytest
import yaml

from tests.env.charts import VERSIONS, template_docs
from tests.helpers import run_cli
from vllmctl.core.multinode import start_args

MODELS = """\
- name: big
  modelURL: meta-llama/Llama-3.1-405B-Instruct
  hfTokenRequired: false
  requestCPU: 16
  requestMemory: 256Gi
  requestGPU: 4
  pvcStorage: 500Gi
  pvcAccessMode: ReadWriteMany
  vllmConfig:
    tensorParallelSize: 4
    pipelineParallelSize: 2
  multiNode:
    nodes: 2
- name: piped
  modelURL: Qwen/Qwen2.5-7B-Instruct
  hfTokenRequired: false
  requestGPU: 2
  vllmConfig:
    pipelineParallelSize: 2
"""


def _render(tmp_path, version: str, chart) -> str:
    (tmp_path / "models.yaml").write_text(MODELS)
    result = run_cli("render", "-d", "out", cwd=tmp_path, env={"VLLM_CHART_VERSION": version, "VLLM_CHART": str(chart)})
    assert result.code == 0, result.output  # the chart check found nothing to refuse
    return (tmp_path / "out" / "values.yaml").read_text()


def _shm(pod: dict) -> bool:
    memory = {v["name"] for v in pod.get("volumes") or [] if (v.get("emptyDir") or {}).get("medium") == "Memory"}
    return any(m["mountPath"] == "/dev/shm" and m["name"] in memory for m in pod["containers"][0]["volumeMounts"])


@pytest.mark.parametrize("version", VERSIONS)
def test_a_multi_node_model_becomes_a_ray_cluster_on_every_chart_version(tmp_path, helm_bin, real_chart, version):
    docs = template_docs(helm_bin, real_chart(version), _render(tmp_path, version, real_chart(version)))
    kinds = {(d["kind"], d["metadata"]["name"]) for d in docs}
    assert ("Deployment", "vllm-big-deployment-vllm") not in kinds  # the RayCluster replaces it
    assert ("Deployment", "vllm-piped-deployment-vllm") in kinds
    cluster = next(d for d in docs if d["kind"] == "RayCluster")
    assert cluster["apiVersion"] == "ray.io/v1" and cluster["metadata"]["name"] == "vllm-big-raycluster"
    head = cluster["spec"]["headGroupSpec"]["template"]["spec"]
    [workers] = cluster["spec"]["workerGroupSpecs"]
    assert workers["replicas"] == 1
    for pod in (head, workers["template"]["spec"]):  # GPUs per node, and shared memory in every pod
        resources = pod["containers"][0]["resources"]
        assert resources["limits"]["nvidia.com/gpu"] == "4" and resources["requests"]["cpu"] == "16"
        assert resources["requests"]["memory"] == "256Gi" and _shm(pod)
    env = {e["name"]: e.get("value") for e in head["containers"][0]["env"]}
    assert env["EXPECTED_NODES"] == "2" and env["VLLM_USE_V1"] == "1"
    script = next(d for d in docs if d["metadata"]["name"] == "big-vllm-start-script")["data"]["vllm-entrypoint.sh"]
    args = start_args(script)
    assert args[args.index("--tensor-parallel-size") + 1] == "4" and args[args.index("--pipeline-parallel-size") + 1] \
        == "2" and args[args.index("--distributed-executor-backend") + 1] == "ray"
    piped = next(d for d in docs if d["metadata"]["name"] == "vllm-piped-deployment-vllm")["spec"]["template"]["spec"]
    engine = next(c for c in piped["containers"] if c["name"] == "vllm")
    args = [str(a) for a in engine.get("command", []) + engine.get("args", [])]
    assert args[args.index("--pipeline-parallel-size") + 1] == "2" and _shm(piped)


@pytest.mark.parametrize("version", [VERSIONS[0], VERSIONS[-1]])
def test_the_chart_check_counts_the_ray_clusters_gpus_and_shm(tmp_path, helm_bin, real_chart, version):
    """Values that take GPUs off the head, or the tensor key away, break the math or the shared
    memory; the chart check (which reads the manifests, not the values) says so at the model's lines."""
    import copy

    from vllmctl.core import chart_lint
    from vllmctl.core.models_file import parse_document, validate_document
    from vllmctl.core.render import RenderRequest, render
    from vllmctl.core.settings import Settings

    doc = parse_document(MODELS, "models.yaml")
    models = validate_document(doc, release="vllm", chart_version=version)
    rendered = render(RenderRequest(models=models, settings=Settings(), chart_version=version, source="t"))

    def errors(change) -> list[str]:
        values = copy.deepcopy(rendered.values)
        change(values["servingEngineSpec"]["modelSpec"][0])
        proc = subprocess.run([helm_bin, "template", "vllm", str(real_chart(version)), "--values", "-"],
                              input=yaml.safe_dump(values), capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        found = chart_lint.lint(chart_lint.LintInput(proc.stdout, rendered.request, doc))
        return [str(f) for f in chart_lint.errors(found)]

    assert errors(lambda spec: None) == []
    [math] = errors(lambda spec: spec["raySpec"]["headNode"].update(requestGPU=2))
    assert math.startswith("models.yaml:13:") and "4 x 2 needs 8 nvidia.com/gpu but the Ray cluster holds 6 " \
        "(head 1 x 2 + worker group 'ray' 1 x 4)" in math
    no_shm = errors(lambda spec: spec["vllmConfig"].pop("tensorParallelSize"))
    assert [m.split(": ", 1)[0] for m in no_shm] == ["models.yaml:13:5"] * 2, no_shm
    assert "Ray head mounts no memory-backed emptyDir at /dev/shm" in no_shm[0]
    assert "Ray worker group 'ray' mounts no" in no_shm[1]
