"""Runtime features through the real chart: what `helm template` of every version makes of the values."""

from __future__ import annotations

import pytest

from tests.env.charts import VERSIONS, template_docs
from tests.helpers import run_cli

MODELS = """\
- name: chat
  modelURL: meta-llama/Llama-3.1-8B-Instruct
  hfTokenRequired: false
  requestCPU: 4
  requestGPU: 1
  startupTimeout: 45m
  limitCPU: 8
  imagePullSecret: regcred
  chatTemplate: templates/chat.jinja
  affinity:
    nodeAffinity:
      requiredDuringSchedulingIgnoredDuringExecution:
        nodeSelectorTerms:
          - matchExpressions: [{key: nvidia.com/gpu.product, operator: In, values: [NVIDIA-H100-80GB-HBM3]}]
- name: mig
  modelURL: Qwen/Qwen2.5-0.5B-Instruct
  hfTokenRequired: false
  requestGPU: 1
  requestGPUType: nvidia.com/mig-3g.40gb
  pvcStorage: 20Gi
- name: amd
  modelURL: Qwen/Qwen2.5-1.5B-Instruct
  hfTokenRequired: false
  requestGPU: 1
  requestGPUType: amd.com/gpu
  runtimeClassName: ""
  image: rocm/vllm
  tag: v0.9.2
"""
TEMPLATE = "{% for m in messages %}<|{{ m.role }}|>{{ m.content }}\n{% endfor %}"


def _render(tmp_path, env: dict[str, str], version: str, chart=None, models: str = MODELS) -> str:
    """`vllmctl render` (which runs the chart check with `chart`) of `models`, the values text."""
    (tmp_path / "models.yaml").write_text(models)
    (tmp_path / "templates").mkdir(exist_ok=True)
    (tmp_path / "templates" / "chat.jinja").write_text(TEMPLATE)
    chart_env = {"VLLM_CHART": str(chart)} if chart else {}
    result = run_cli("render", "-d", "out", cwd=tmp_path, env={"VLLM_CHART_VERSION": version, **chart_env, **env})
    assert result.code == 0, result.output
    return (tmp_path / "out" / "values.yaml").read_text()


def _find(docs, kind, name):
    found = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    assert found, f"no {kind}/{name} in {[(d['kind'], d['metadata']['name']) for d in docs]}"
    return found[0]


def _engine(docs, model):
    pod = _find(docs, "Deployment", f"vllm-{model}-deployment-vllm")["spec"]["template"]["spec"]
    return pod, next(c for c in pod["containers"] if c["name"] == "vllm")


@pytest.mark.parametrize("version", VERSIONS)
def test_probes_placement_and_images_reach_every_chart_version(tmp_path, helm_bin, real_chart, version):
    docs = template_docs(helm_bin, real_chart(version), _render(tmp_path, {}, version, real_chart(version)))
    pod, engine = _engine(docs, "chat")
    startup_probe = engine["startupProbe"]
    window = startup_probe["initialDelaySeconds"] + startup_probe["periodSeconds"] * startup_probe["failureThreshold"]
    assert 45 * 60 <= window < 45 * 60 + 10  # the slowest model's startupTimeout sets it for all
    assert engine["livenessProbe"]["timeoutSeconds"] == 5 and engine["livenessProbe"]["failureThreshold"] == 6
    assert engine["readinessProbe"]["httpGet"]["path"] == "/health"
    assert engine["resources"]["limits"]["cpu"] == "8"
    assert pod["imagePullSecrets"] == [{"name": "regcred"}]
    terms = pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    assert terms[0]["matchExpressions"][0]["values"] == ["NVIDIA-H100-80GB-HBM3"]
    # The chat template file becomes the chart's ConfigMap, mounted at /templates and passed to vLLM.
    config = _find(docs, "ConfigMap", "vllm-chat-chat-templates")
    # Every chart version writes it as a `|-` block after nindent: a leading newline, no trailing one.
    assert config["data"]["chat.jinja"] == "\n" + TEMPLATE.rstrip("\n")
    args = engine.get("command", []) + engine.get("args", [])
    assert args[args.index("--chat-template") + 1] == "/templates/chat.jinja"
    assert {"name": "vllm-chat-chat-templates", "mountPath": "/templates"} in engine["volumeMounts"]
    # GPU types: the chart requests and limits the named resource, never nvidia.com/gpu besides it.
    _, mig = _engine(docs, "mig")
    assert mig["resources"]["limits"] == {"nvidia.com/mig-3g.40gb": "1"}
    amd_pod, amd = _engine(docs, "amd")
    assert amd["resources"]["requests"]["amd.com/gpu"] == "1" and "nvidia.com/gpu" not in amd["resources"]["limits"]
    assert "runtimeClassName" not in amd_pod and pod["runtimeClassName"] == "nvidia"
    assert amd["image"] == "rocm/vllm:v0.9.2"


@pytest.mark.parametrize("version", VERSIONS)
def test_ingress_with_tls_reaches_every_chart_version(tmp_path, helm_bin, real_chart, version):
    env = {"VLLM_ROUTER_EXPOSE": "ingress", "VLLM_ROUTER_HOST": "llm.example.com", "VLLM_INGRESS_CLASS": "nginx",
           "VLLM_ROUTER_TLS_SECRET": "llm-tls"}
    docs = template_docs(helm_bin, real_chart(version), _render(tmp_path, env, version, real_chart(version)))
    ingress = _find(docs, "Ingress", "vllm-ingress-router")["spec"]
    assert ingress["ingressClassName"] == "nginx"
    assert ingress["tls"] == [{"hosts": ["llm.example.com"], "secretName": "llm-tls"}]
    rule = ingress["rules"][0]
    assert rule["host"] == "llm.example.com"
    assert rule["http"]["paths"][0]["backend"]["service"]["name"] == "vllm-router-service"


@pytest.mark.parametrize("version", VERSIONS)
def test_gateway_route_reaches_every_chart_version(tmp_path, helm_bin, real_chart, version):
    env = {"VLLM_ROUTER_EXPOSE": "gateway", "VLLM_GATEWAY": "infra/edge", "VLLM_ROUTER_HOST": "llm.example.com"}
    docs = template_docs(helm_bin, real_chart(version), _render(tmp_path, env, version, real_chart(version)))
    route = _find(docs, "HTTPRoute", "vllm-router")
    assert route["apiVersion"] == "gateway.networking.k8s.io/v1"
    assert route["spec"]["parentRefs"] == [{"name": "edge", "namespace": "infra"}]
    assert route["spec"]["hostnames"] == ["llm.example.com"]
    assert route["spec"]["rules"][0]["backendRefs"][0]["name"] == "vllm-router-service"


@pytest.mark.parametrize("version", VERSIONS)
def test_service_types_reach_every_chart_version(tmp_path, helm_bin, real_chart, version):
    fixed = version in ("0.1.11", "0.1.12")
    env = {"VLLM_ROUTER_EXPOSE": "nodeport", **({"VLLM_ROUTER_NODE_PORT": "30080"} if fixed else {})}
    docs = template_docs(helm_bin, real_chart(version), _render(tmp_path, env, version, real_chart(version)))
    spec = _find(docs, "Service", "vllm-router-service")["spec"]
    assert spec["type"] == "NodePort"
    assert spec["ports"][0].get("nodePort") == (30080 if fixed else None)
    docs = template_docs(helm_bin, real_chart(version),
                     _render(tmp_path, {"VLLM_ROUTER_EXPOSE": "loadbalancer"}, version, real_chart(version)))
    assert _find(docs, "Service", "vllm-router-service")["spec"]["type"] == "LoadBalancer"


@pytest.mark.parametrize("version", ["0.1.9", "0.1.12"])
def test_router_image_pull_secrets(tmp_path, helm_bin, real_chart, version):
    docs = template_docs(helm_bin, real_chart(version),
                     _render(tmp_path, {"VLLM_ROUTER_IMAGE_PULL_SECRETS": "reg-a, reg-b"}, version,
                             real_chart(version)))
    pod = _find(docs, "Deployment", "vllm-deployment-router")["spec"]["template"]["spec"]
    assert pod["imagePullSecrets"] == [{"name": "reg-a"}, {"name": "reg-b"}]


def test_invalid_combinations_are_refused_before_anything_renders(tmp_path):
    (tmp_path / "models.yaml").write_text(MODELS.replace('  runtimeClassName: ""\n', ""))
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "chat.jinja").write_text(TEMPLATE)
    result = run_cli("render", "-d", "out", cwd=tmp_path)
    line = next(n for n, text in enumerate(MODELS.splitlines(), 1) if "amd.com/gpu" in text)
    assert result.code == 2 and f"models.yaml:{line}:" in result.stderr and "AMD GPU" in result.stderr
    assert not (tmp_path / "out").exists()
    (tmp_path / "models.yaml").write_text(MODELS)
    result = run_cli("render", "-d", "out", cwd=tmp_path, env={"VLLM_ROUTER_EXPOSE": "ingress"})
    assert result.code == 2 and "VLLM_ROUTER_HOST" in result.stderr and "Traceback" not in result.output


def test_a_missing_chat_template_file_is_one_line_at_its_key(tmp_path):
    (tmp_path / "models.yaml").write_text(MODELS)
    result = run_cli("validate", cwd=tmp_path)
    line = next(n for n, text in enumerate(MODELS.splitlines(), 1) if "chatTemplate" in text)
    assert result.code == 2 and f"models.yaml:{line}:" in result.stderr and "cannot read chat template" in result.stderr


AUTOSCALED = """\
- name: chat
  modelURL: meta-llama/Llama-3.1-8B-Instruct
  hfTokenRequired: false
  requestGPU: 1
  autoscaling: {minReplicas: 0, maxReplicas: 3, targetQueueLength: 4}
"""


@pytest.mark.parametrize("version", ["0.1.9", "0.1.10", "0.1.11", "0.1.12"])
def test_autoscaling_reaches_every_chart_version_that_has_keda(tmp_path, helm_bin, real_chart, version):
    docs = template_docs(helm_bin, real_chart(version), _render(tmp_path, {}, version, real_chart(version), AUTOSCALED))
    scaled = _find(docs, "ScaledObject", "vllm-chat-scaledobject")["spec"]
    assert scaled["scaleTargetRef"]["name"] == "vllm-chat-deployment-vllm"
    assert (scaled["minReplicaCount"], scaled["maxReplicaCount"]) == (0, 3)
    assert [t["metadata"]["threshold"] for t in scaled["triggers"]] == ["4", "1"]
    # The ScaledObject owns the replicas: 0.1.11 and later leave them out of the Deployment; before, an
    # upgrade sets them, to the minimum.
    spec = _find(docs, "Deployment", "vllm-chat-deployment-vllm")["spec"]
    assert spec.get("replicas") == (None if version in ("0.1.11", "0.1.12") else 0)


def test_autoscaling_on_chart_0_1_8_is_refused_at_its_line(tmp_path):
    (tmp_path / "models.yaml").write_text(AUTOSCALED)
    result = run_cli("validate", cwd=tmp_path, env={"VLLM_CHART_VERSION": "0.1.8"})
    assert result.code == 2 and "models.yaml:5:3: 'autoscaling' needs vllm-stack chart 0.1.9" in result.stderr


@pytest.mark.parametrize("version", ["0.1.11", "0.1.12"])
def test_monitoring_reaches_the_charts_that_have_it(tmp_path, helm_bin, real_chart, version):
    env = {"VLLM_MONITORING": "true", "VLLM_SERVICE_MONITOR_LABELS": "release=kps"}
    chart = real_chart(version)
    docs = template_docs(helm_bin, chart, _render(tmp_path, env, version, chart, AUTOSCALED))
    monitors = {d["metadata"]["name"]: d for d in docs if d["kind"] == "ServiceMonitor"}
    assert set(monitors) == {"vllm-engine-servicemonitor", "vllm-router-servicemonitor"}
    assert all(m["metadata"]["labels"]["release"] == "kps" for m in monitors.values())
    dashboards = [d for d in docs if d["kind"] == "ConfigMap" and "-grafana-" in d["metadata"]["name"]]
    assert dashboards and all(d["metadata"]["labels"]["grafana_dashboard"] == "1" for d in dashboards)


@pytest.mark.parametrize("version", VERSIONS)
def test_the_chart_keeps_the_cache_claims_itself_wherever_helm_goes_without_the_post_renderer(
        tmp_path, helm_bin, real_chart, version):
    import yaml

    from vllmctl.core.plan import KEEP_ANNOTATION, claims_kept

    text = _render(tmp_path, {}, version, real_chart(version))
    claims = [d for d in template_docs(helm_bin, real_chart(version), text) if d["kind"] == "PersistentVolumeClaim"]
    assert "vllm-mig-storage-claim" in [d["metadata"]["name"] for d in claims]
    kept = [(d["metadata"].get("annotations") or {}).get(KEEP_ANNOTATION) == "keep" for d in claims]
    # where the values alone do not keep every claim, the upgrade runs the post-renderer
    assert claims_kept(yaml.safe_load(text), version) == all(kept) == (version not in ("0.1.8", "0.1.9"))
