"""Rendering: golden files, the chart's values schema per version, and the rules that matter."""

from __future__ import annotations

import os
from pathlib import Path

import jsonschema
import pytest
import yaml

from vllmctl.core import chart
from vllmctl.core.render import RenderRequest, render
from vllmctl.core.settings import Settings
from vllmctl.workflows.models import validate_text

HERE = Path(__file__).parent
GOLDEN = HERE / "golden" / "render"
UPDATE = os.environ.get("VLLMCTL_UPDATE_GOLDEN") == "1"  # regenerate: VLLMCTL_UPDATE_GOLDEN=1 pytest ...

MODELS = """\
- name: chat
  modelURL: meta-llama/Llama-3.1-8B-Instruct
  requestCPU: 8
  requestMemory: 32Gi
  limitMemory: 40Gi
  requestGPU: 2
  pvcStorage: 100Gi
  pvcAccessMode: ReadWriteMany
  shmSize: 8Gi
  toolCallParser: llama3_json
  env:
    VLLM_LOGGING_LEVEL: DEBUG
    WEIRD: "quote \\" colon: hash # brace { newline \\n unicode é 日本"
  nodeSelectorTerms:
    - matchExpressions:
        - {key: nvidia.com/gpu.product, operator: In, values: [NVIDIA-H100-80GB-HBM3]}
  tolerations:
    - {key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}
  vllmConfig:
    maxModelLen: 16384
    dtype: bfloat16
    tensorParallelSize: 2
    gpuMemoryUtilization: 0.92
    enableChunkedPrefill: true
    maxNumSeqs: 128
    extraArgs: ["--max-num-batched-tokens", 8192]
- name: small
  modelURL: Qwen/Qwen2.5-0.5B-Instruct
  hfTokenRequired: false
  image: my-registry.example/vllm-openai
  tag: v0.32.0-patched
- name: no-cache
  modelURL: Qwen/Qwen2.5-1.5B-Instruct
  pvcStorage: ""
  storageClass: fast-ssd
  vllmConfig:
    enablePrefixCaching: false
- name: parked
  modelURL: org/parked
  enabled: false
"""


def rendered(settings: Settings | None = None, text: str = MODELS, hf: frozenset = frozenset({"chat"})):
    settings = settings or Settings(chart_version="0.1.12", storage_class="standard")
    loaded = validate_text(text, "models.yaml", settings)
    return render(RenderRequest(
        models=loaded.models, settings=settings, chart_version=loaded.chart_version, source="models.yaml",
        source_text=text, hf_token_models=hf, api_key=settings.api_key_enabled,
    ))


def model_spec(values: dict, name: str) -> dict:
    return next(m for m in values["servingEngineSpec"]["modelSpec"] if m["name"] == name)


@pytest.mark.parametrize("name", ["values.yaml", "hf-token-external-secret.yaml", "vllm-api-key-external-secret.yaml"])
def test_golden(name):
    text = rendered().files()[name]
    golden = GOLDEN / name
    if UPDATE:
        golden.write_text(text)
    assert text == golden.read_text(), f"{name} differs from its golden file (VLLMCTL_UPDATE_GOLDEN=1 to accept)"


@pytest.mark.parametrize("version", chart.KNOWN_VERSIONS)
def test_values_match_the_charts_schema(version, chart_schema):
    schema = chart_schema(version)
    text = MODELS if chart.supports(version, "tolerations") else MODELS.replace(
        "  tolerations:\n    - {key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}\n", "")
    values = rendered(Settings(chart_version=version), text).values
    # 0.1.8 to 0.1.10's schemas require pvcStorage, but their templates (the ground truth; helm never
    # applies the schema, the package drops it) take a missing key as "no cache volume", which is
    # how `pvcStorage: ""` renders: an empty string would mount a claim no version creates.
    items = schema["properties"]["servingEngineSpec"]["properties"]["modelSpec"]["items"]
    items["required"] = [key for key in items.get("required", []) if key != "pvcStorage"]
    jsonschema.validate(values, schema)


def test_output_parses_back_to_the_same_values():
    result = rendered()
    assert yaml.safe_load(result.values_text) == result.values
    env = {e["name"]: e["value"] for e in model_spec(result.values, "chat")["env"]}
    assert env["WEIRD"] == 'quote " colon: hash # brace { newline \n unicode é 日本'


def test_served_model_name_is_the_models_yaml_name_and_comes_first():
    values = rendered().values
    for spec in values["servingEngineSpec"]["modelSpec"]:
        assert spec["vllmConfig"]["extraArgs"][:2] == ["--served-model-name", spec["name"]]
    assert model_spec(values, "chat")["vllmConfig"]["extraArgs"][2:] == ["--max-num-batched-tokens", "8192"]


def test_prefix_caching_stays_on_unless_turned_off():
    values = rendered().values
    assert model_spec(values, "chat")["vllmConfig"]["enablePrefixCaching"] is True
    assert model_spec(values, "small")["vllmConfig"]["enablePrefixCaching"] is True  # no vllmConfig at all
    assert model_spec(values, "no-cache")["vllmConfig"]["enablePrefixCaching"] is False


def test_never_disable_log_requests():
    assert "--disable-log-requests" not in rendered().values_text
    bad = "- name: a\n  modelURL: a/b\n  vllmConfig:\n    extraArgs: [--disable-log-requests]\n"
    with pytest.raises(Exception, match="--disable-log-requests was removed"):
        validate_text(bad, "models.yaml", Settings())


def _walk(node, path=()):
    if isinstance(node, dict):
        for k, v in node.items():
            yield path + (k,), v
            yield from _walk(v, path + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _walk(v, path + (i,))


def test_secrets_are_references_never_values():
    values = rendered().values
    refs = {p: v for p, v in _walk(values) if p[-1] in ("hf_token", "vllmApiKey")}
    assert len(refs) == 3  # chat's hf_token, the engine's and the router's API key
    for path, ref in refs.items():
        assert set(ref) == {"secretName", "secretKey"}, path
    assert model_spec(values, "chat")["hf_token"] == {"secretName": "hf-token", "secretKey": "token"}
    assert values["routerSpec"]["vllmApiKey"] == {"secretName": "vllm-api-key", "secretKey": "api-key"}
    assert "hf_token" not in model_spec(values, "small")
    names = {e["name"] for spec in values["servingEngineSpec"]["modelSpec"] for e in spec.get("env", [])}
    assert not names & {"HF_TOKEN", "VLLM_API_KEY"}


def test_no_api_key_means_no_reference():
    values = rendered(Settings(api_key_enabled=False, chart_version="0.1.12")).values
    assert "vllmApiKey" not in values["servingEngineSpec"] and "vllmApiKey" not in values["routerSpec"]


def test_settings_drive_images_runtime_storage_and_router():
    settings = Settings(chart_version="0.1.12", runtime_class="", storage_class="gp3", model_tag="v0.31.0",
                        router_replicas=2, router_tag="v0.1.9", update_strategy="Recreate", routing_logic="session")
    values = rendered(settings).values
    engine = values["servingEngineSpec"]
    assert engine["runtimeClassName"] == "" and engine["strategy"] == {"type": "Recreate"}
    assert model_spec(values, "chat")["tag"] == "v0.31.0"
    assert model_spec(values, "small")["repository"] == "my-registry.example/vllm-openai"
    assert model_spec(values, "small")["tag"] == "v0.32.0-patched"
    assert model_spec(values, "chat")["storageClass"] == "gp3"
    assert model_spec(values, "no-cache")["storageClass"] == "fast-ssd"
    router = values["routerSpec"]
    assert (router["replicaCount"], router["tag"], router["routingLogic"]) == (2, "v0.1.9", "session")
    assert router["resources"] == {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"memory": "1000Mi"}}


def test_disabled_models_are_not_rendered():
    names = [m["name"] for m in rendered().values["servingEngineSpec"]["modelSpec"]]
    assert names == ["chat", "small", "no-cache"]


def test_external_secrets_point_at_the_seeds_vault_paths():
    files = rendered(Settings(namespace="inference", secret_store="my-store", chart_version="0.1.12")).files()
    hf = yaml.safe_load(files["hf-token-external-secret.yaml"])
    api = yaml.safe_load(files["vllm-api-key-external-secret.yaml"])
    assert hf["apiVersion"] == "external-secrets.io/v1" and hf["kind"] == "ExternalSecret"
    assert hf["metadata"] == {"name": "hf-token-external-secret", "namespace": "inference"}
    assert hf["spec"]["secretStoreRef"] == {"name": "my-store", "kind": "ClusterSecretStore"}
    assert hf["spec"]["target"] == {"name": "hf-token", "creationPolicy": "Owner"}
    assert hf["spec"]["data"] == [{"secretKey": "token", "remoteRef": {"key": "vllm/huggingface", "property": "token"}}]
    assert api["spec"]["data"][0]["remoteRef"] == {"key": "vllm/api-key", "property": "api-key"}
    assert api["spec"]["target"]["name"] == "vllm-api-key" and hf["spec"]["refreshInterval"] == "1h"


def test_rendering_is_deterministic():
    assert rendered().files() == rendered().files()
