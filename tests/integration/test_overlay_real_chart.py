"""Chart keys set through the values overlay reach the real chart: for every supported version, a
sample across servingEngineSpec, modelSpec[], routerSpec, loraController, cacheserverSpec and
sharedPvcStorage goes through `vllmctl render` (global values.override.yaml plus a model's
`modelSpec:`) and then the real `helm template` of that version, whose output must show each."""

from __future__ import annotations

import subprocess

import pytest

from tests.helpers import run_cli
from vllmctl.core import overlay

VERSIONS = ("0.1.8", "0.1.9", "0.1.10", "0.1.11", "0.1.12")
M = "servingEngineSpec.modelSpec[]."

# (chart key, value, text the manifests then hold). Keys below servingEngineSpec.modelSpec[] go
# into the model's `modelSpec:` in models.yaml, the others into values.override.yaml. A key is
# used for the versions whose interface has it.
SAMPLE = [
    ("servingEngineSpec.labels", {"ovl-team": "se-labels"}, "se-labels"),
    ("servingEngineSpec.containerPort", 8011, "8011"),
    ("servingEngineSpec.servicePort", 8012, "port: 8012"),
    ("servingEngineSpec.schedulerName", "se-sched", "schedulerName: se-sched"),
    ("servingEngineSpec.securityContext", {"runAsUser": 1234}, "runAsUser: 1234"),
    ("servingEngineSpec.containerSecurityContext", {"runAsUser": 4321}, "runAsUser: 4321"),
    ("servingEngineSpec.tolerations", [{"key": "se-tol", "operator": "Exists"}], "se-tol"),
    ("servingEngineSpec.startupProbe.initialDelaySeconds", 71, "initialDelaySeconds: 71"),
    ("servingEngineSpec.livenessProbe.periodSeconds", 72, "periodSeconds: 72"),
    ("servingEngineSpec.readinessProbe.failureThreshold", 73, "failureThreshold: 73"),
    ("servingEngineSpec.env", [{"name": "SE_ENV", "value": "se-env"}], "se-env"),
    ("servingEngineSpec.serviceMonitor", {"enabled": True, "interval": "17s"}, "interval: 17s"),
    (M + "imagePullSecret", "ms-pull", "ms-pull"),
    (M + "limitCPU", 13, 'cpu: "13"'),
    (M + "annotations", {"ms-ann": "ms-ann-v"}, "ms-ann-v"),
    (M + "pvcLabels", {"ms-pvc": "ms-pvc-v"}, "ms-pvc-v"),
    (M + "serviceAccountName", "ms-sa", "serviceAccountName: ms-sa"),
    (M + "runtimeClassName", "ms-rtc", "runtimeClassName: ms-rtc"),
    (M + "nodeName", "ms-node", "ms-node"),
    (M + "affinity", {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"topologyKey": "ms-topo", "labelSelector": {}}]}}, "ms-topo"),
    (M + "requestGPUType", "ms.example/gpu", "ms.example/gpu"),
    (M + "chatTemplate", "ms-chat.jinja", "/templates/ms-chat.jinja"),
    (M + "enableLoRA", True, "--enable-lora"),
    (M + "extraVolumes", [{"name": "ms-vol", "emptyDir": {}}], "ms-vol"),
    (M + "extraVolumeMounts", [{"name": "ms-vol", "mountPath": "/ms-mnt"}], "/ms-mnt"),
    (M + "initContainer", {"name": "ms-init", "image": "busybox:1", "command": ["sh"], "args": ["ls"],
                           "mountPvcStorage": False}, "ms-init"),
    (M + "vllmConfig.maxLoras", 5, "--max_loras"),
    (M + "requestGPUMem", "3001", "3001"),
    (M + "limitGPUCores", "57", '"57"'),
    (M + "envFromSecret", {"name": "ms-envsecret"}, "ms-envsecret"),
    (M + "pvcAnnotations", {"ms-pvca": "ms-pvca-v"}, "ms-pvca-v"),
    (M + "podLabels", {"ms-podl": "ms-podl-v"}, "ms-podl-v"),
    (M + "serviceAnnotations", {"ms-sva": "ms-sva-v"}, "ms-sva-v"),
    ("routerSpec.serviceType", "NodePort", "type: NodePort"),
    ("routerSpec.serviceAnnotations", {"rs-sa": "rs-sa-v"}, "rs-sa-v"),
    ("routerSpec.podAnnotations", {"rs-pa": "rs-pa-v"}, "rs-pa-v"),
    ("routerSpec.priorityClassName", "rs-prio", "rs-prio"),
    ("routerSpec.containerPort", 8021, "8021"),
    ("routerSpec.servicePort", 8022, "port: 8022"),
    ("routerSpec.labels", {"rs-l": "rs-l-v"}, "rs-l-v"),
    ("routerSpec.extraArgs", ["--rs-extra-arg"], "--rs-extra-arg"),
    ("routerSpec.engineScrapeInterval", 17, '"17"'),
    ("routerSpec.requestStatsWindow", 61, '"61"'),
    # (routerSpec.affinity, when set, makes the chart ignore routerSpec.nodeSelectorTerms)
    ("routerSpec.nodeSelectorTerms", [{"matchExpressions": [{"key": "rs-node", "operator": "Exists"}]}], "rs-node"),
    ("routerSpec.autoscaling", {"enabled": True, "minReplicas": 1, "maxReplicas": 9,
                                "targetCPUUtilizationPercentage": 43}, "averageUtilization: 43"),
    ("routerSpec.ingress", {"enabled": True, "className": "rs-ingress", "hosts": [
        {"host": "rs.example.com", "paths": [{"path": "/", "pathType": "Prefix"}]}]}, "rs.example.com"),
    ("routerSpec.securityContext", {"runAsUser": 5678}, "runAsUser: 5678"),
    ("routerSpec.containerSecurityContext", {"runAsUser": 8765}, "runAsUser: 8765"),
    ("routerSpec.strategy", {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "37%"}}, "maxSurge: 37%"),
    ("routerSpec.otel", {"endpoint": "rs-otel:4317"}, "rs-otel:4317"),
    ("routerSpec.imagePullSecrets", [{"name": "rs-pull"}], "rs-pull"),
    ("routerSpec.pdb", {"enabled": True, "minAvailable": 1, "labels": {"rs-pdb": "rs-pdb-v"}}, "rs-pdb-v"),
    ("loraController.enableLoraController", True, "lora-controller"),
    ("loraController.podAnnotations", {"lc-pa": "lc-pa-v"}, "lc-pa-v"),
    ("loraController.image.repository", "lc-image", "lc-image"),
    ("loraController.extraArgs", ["--lc-arg"], "--lc-arg"),
    ("loraController.nodeSelector", {"lc-node": "lc-node-v"}, "lc-node-v"),
    ("cacheserverSpec.enabled", True, "cache-server"),
    ("cacheserverSpec.repository", "cs-image", "cs-image"),  # up to 0.1.10 (required there)
    ("cacheserverSpec.tag", "cs-tag", "cs-tag"),
    ("cacheserverSpec.image.repository", "cs-image", "cs-image"),  # from 0.1.11
    ("cacheserverSpec.priorityClassName", "cs-prio", "cs-prio"),
    ("cacheserverSpec.servicePort", 8031, "8031"),
    ("cacheserverSpec.serde", "cs-serde", "cs-serde"),
    ("cacheserverSpec.labels", {"cs-l": "cs-l-v"}, "cs-l-v"),
    ("sharedPvcStorage.enabled", True, "shared-pvc-storage"),
    ("sharedPvcStorage.size", "77Gi", "77Gi"),
    ("sharedPvcStorage.storageClass", "sp-class", "sp-class"),
    ("sharedPvcStorage.hostPath", "/sp-host", "/sp-host"),  # 0.1.8 needs hostPath or nfs
]
AREAS = ("servingEngineSpec.", M, "routerSpec.", "loraController.", "cacheserverSpec.", "sharedPvcStorage.")


def _nest(pairs) -> dict:
    out: dict = {}
    for path, value in pairs:
        node = out
        *parents, last = path.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
    return out


def _sample(version: str) -> list[tuple]:
    """The cases whose key this version's interface accepts (the others would be refused)."""
    def accepted(path, value):
        if path.startswith(M):
            return not overlay.check_model_spec(_nest([(path[len(M):], value)]), version)
        return not overlay.check_values(_nest([(path, value)]), version)

    return [case for case in SAMPLE if accepted(case[0], case[1])]


def _yaml(data) -> str:
    import yaml

    return yaml.safe_dump(data, sort_keys=False)


@pytest.mark.parametrize("version", VERSIONS)
def test_overlay_keys_reach_the_real_charts_manifests(version, real_chart, helm_bin, tmp_path):
    cases = _sample(version)
    assert len(cases) >= 40, f"only {len(cases)} sample keys exist in {version}"
    assert {area for area in AREAS if any(c[0].startswith(area) for c in cases)} == set(AREAS)
    model_spec = _nest((path[len(M):], value) for path, value, _ in cases if path.startswith(M))
    values = _nest((path, value) for path, value, _ in cases if not path.startswith(M))
    entry = {"name": "chat", "modelURL": "Qwen/Qwen2.5-0.5B-Instruct", "requestGPU": 1, "pvcStorage": "10Gi",
             "hfTokenRequired": False, "modelSpec": model_spec,
             # lmcacheConfig is models.yaml's `lmcache:` now (the overlay refuses it); cacheserverSpec.serde
             # reaches only an engine that runs LMCache
             "lmcache": {"cpuOffloadingBufferSize": 31}}
    (tmp_path / "models.yaml").write_text(_yaml([entry]))
    (tmp_path / "values.override.yaml").write_text(_yaml(values))

    # render runs the chart check, which templates the real chart (VLLM_CHART: no repository needed)
    result = run_cli("render", "-d", "out", cwd=tmp_path, env={"VLLM_CHART": str(real_chart(version))})
    assert result.code == 0, result.output
    assert "values overlay: values.override.yaml" in result.stderr
    proc = subprocess.run(
        [helm_bin, "template", "vllm", str(real_chart(version)), "-n", "vllm", "-f", str(tmp_path / "out/values.yaml")],
        capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    missing = [(path, marker) for path, _, marker in cases if marker not in proc.stdout]
    assert not missing, f"{version}: these overlay keys did not reach the manifests: {missing}"
    assert 'name: LMCACHE_MAX_LOCAL_CPU_SIZE\n            value: "31"' in proc.stdout
    # vllmctl's own rendering survives the merge: the served model name and the engine image.
    assert "--served-model-name" in proc.stdout and "vllm/vllm-openai:" in proc.stdout


def test_null_deletes_a_chart_default(real_chart, helm_bin, tmp_path):
    """As with `helm -f`: null in the overlay removes the chart's own default from the manifests."""
    (tmp_path / "models.yaml").write_text(_yaml([{"name": "chat", "modelURL": "Qwen/Qwen2.5-0.5B-Instruct",
                                                   "hfTokenRequired": False}]))
    template = [helm_bin, "template", "vllm", str(real_chart("0.1.12")), "-f", str(tmp_path / "out/values.yaml")]
    assert run_cli("render", "-d", "out", cwd=tmp_path, env={"VLLM_CHART": str(real_chart("0.1.12"))}).code == 0
    assert "runAsNonRoot: false" in subprocess.run(template, capture_output=True, text=True, check=True).stdout
    (tmp_path / "values.override.yaml").write_text("servingEngineSpec:\n  containerSecurityContext: null\n")
    assert run_cli("render", "-d", "out", cwd=tmp_path, env={"VLLM_CHART": str(real_chart("0.1.12"))}).code == 0
    assert "runAsNonRoot: false" not in subprocess.run(template, capture_output=True, text=True, check=True).stdout
