"""LoRA adapters through the real chart: what `helm template` of every version (all ship the LoRA
controller, `loraAdapters` and the LoraAdapter CRD) makes of the rendered values."""

from __future__ import annotations

import tarfile

import pytest
import yaml

from tests.env.charts import VERSIONS, template_docs
from tests.helpers import run_cli
from tests.unit.test_runtime_chart import _engine, _find, _render

MODELS = """\
- name: chat
  modelURL: meta-llama/Llama-3.1-8B-Instruct
  hfTokenRequired: false
  requestGPU: 1
  vllmConfig:
    extraArgs: ["--max-num-batched-tokens", "4096"]
  lora:
    maxLoraRank: 32
    adapters:
      - name: sql
        source: huggingface
        repository: yard1/llama-2-7b-sql-lora-test
      - name: local-one
        source: local
        path: /data/lora-adapters/one
        replicas: 1
      - name: s3-one
        source: s3
        repository: s3://bucket/adapters/x
        path: /data/lora-adapters/x
        credentials: {secretName: s3-creds, secretKey: config}
- name: plain
  modelURL: Qwen/Qwen2.5-0.5B-Instruct
  hfTokenRequired: false
  requestGPU: 1
"""


@pytest.mark.parametrize("version", VERSIONS)
def test_adapters_controller_and_engine_flags_reach_every_chart_version(tmp_path, helm_bin, real_chart, version):
    docs = template_docs(helm_bin, real_chart(version), _render(tmp_path, {}, version, real_chart(version), MODELS))
    adapters = {d["metadata"]["name"]: d["spec"] for d in docs if d["kind"] == "LoraAdapter"}
    assert set(adapters) == {"sql", "local-one", "s3-one"}
    assert all(a["baseModel"] == "chat" for a in adapters.values())
    # the API key's own Secret on every version (before 0.1.11 the chart's default is its empty Secret)
    assert all(a["vllmApiKey"] == {"secretName": "vllm-api-key", "secretKey": "api-key"} for a in adapters.values())
    assert adapters["sql"]["adapterSource"] == {"type": "huggingface", "adapterName": "sql",
                                                "repository": "yard1/llama-2-7b-sql-lora-test",
                                                "credentialsSecretRef": {"name": "hf-token", "key": "token"}}
    assert adapters["local-one"]["adapterSource"]["adapterPath"] == "/data/lora-adapters/one"
    assert adapters["local-one"]["loraAdapterDeploymentConfig"] == {"algorithm": "default", "replicas": 1}
    assert adapters["s3-one"]["adapterSource"]["credentialsSecretRef"] == {"name": "s3-creds", "key": "config"}
    # the chart's own Secret stays empty: no credential travels in the values
    assert not _find(docs, "Secret", "vllm-secrets").get("data")

    controller = _find(docs, "Deployment", "vllm-lora-controller")["spec"]["template"]["spec"]
    assert controller["serviceAccountName"] == "vllm-lora-controller"
    assert {(d["kind"], d["metadata"]["name"]) for d in docs} >= {
        ("ServiceAccount", "vllm-lora-controller"), ("ClusterRole", "vllm-lora-controller"),
        ("ClusterRoleBinding", "vllm-lora-controller")}

    pod, engine = _engine(docs, "chat")
    serve = engine.get("command", []) + engine.get("args", [])
    assert "--enable-lora" in serve
    assert serve[serve.index("--max_loras") + 1] == "3"
    assert serve[serve.index("--max-lora-rank") + 1] == "32"
    assert serve[serve.index("--served-model-name") + 1] == "chat"
    assert {"name": "VLLM_ALLOW_RUNTIME_LORA_UPDATING", "value": "True"} in engine["env"]
    assert [c["name"] for c in pod["containers"]] == ["vllm", "sidecar"]  # the Hub download sidecar

    _, plain = _engine(docs, "plain")
    assert "--enable-lora" not in plain.get("command", []) + plain.get("args", [])


@pytest.mark.parametrize("version", VERSIONS)
def test_every_chart_version_ships_the_lora_adapter_crd_as_apiextensions_v1(real_chart, version):
    with tarfile.open(real_chart(version)) as tar:
        crd = yaml.safe_load(tar.extractfile("vllm-stack/crds/crd-lora-adapter.yaml"))
    assert crd["apiVersion"] == "apiextensions.k8s.io/v1"  # served by Kubernetes 1.16 and later
    assert crd["spec"]["group"] == "production-stack.vllm.ai" and crd["spec"]["names"]["kind"] == "LoraAdapter"
    assert [v["name"] for v in crd["spec"]["versions"]] == ["v1alpha1"]


def test_an_adapter_rank_vllm_refuses_is_found_at_its_line(tmp_path):
    (tmp_path / "models.yaml").write_text(MODELS.replace("maxLoraRank: 32", "maxLoraRank: 7"))
    result = run_cli("validate", cwd=tmp_path)
    assert result.code == 2, result.output
    assert "models.yaml:8:18:" in result.stderr and "--max-lora-rank" in result.stderr


def test_a_literal_credential_is_refused_at_its_line_and_never_shown(tmp_path):
    token = "hf_abcdefghijklmnopqrstuvwxyz0123456"
    (tmp_path / "models.yaml").write_text(
        MODELS.replace("credentials: {secretName: s3-creds, secretKey: config}", f"credentials: {token}"))
    result = run_cli("validate", cwd=tmp_path)
    assert result.code == 2 and "models.yaml:21:22: 'credentials': credentials must name a Secret" in result.stderr
    assert token not in result.output


def test_the_commented_example_renders_through_the_real_chart(tmp_path, helm_bin, real_chart):
    from tests.helpers import REPO

    lines = (REPO / "models.example.yaml").read_text().splitlines()
    start = lines.index("# - name: llama-lora")
    block = lines[start:lines.index("", start)]
    example = "\n".join(line[2:] for line in block) + "\n"
    docs = template_docs(helm_bin, real_chart("0.1.12"), _render(tmp_path, {}, "0.1.12", real_chart("0.1.12"), example))
    adapters = {d["metadata"]["name"]: d["spec"] for d in docs if d["kind"] == "LoraAdapter"}
    assert set(adapters) == {"sql", "support"} and adapters["support"]["loraAdapterDeploymentConfig"]["replicas"] == 1
    _, engine = _engine(docs, "llama-lora")
    argv = engine.get("command", []) + engine.get("args", [])
    assert argv[argv.index("--max_loras") + 1] == "4" and argv[argv.index("--max-lora-rank") + 1] == "16"
