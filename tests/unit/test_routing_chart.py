"""Routing through the real chart: what `helm template` of every version makes of kvaware, disaggregated
prefill and prefix-aware values, and the chart check refusing what lacks a companion (exit 2, one line)."""

from __future__ import annotations

import pytest
import yaml

from tests.env.charts import VERSIONS, template_docs
from tests.helpers import run_cli
from tests.unit.test_routing import PD
from tests.unit.test_runtime_chart import _engine, _find
from vllmctl.core.chart_lint import LintInput, errors, lint
from vllmctl.core.render import RenderRequest
from vllmctl.core.settings import Settings
from vllmctl.workflows.models import validate_text

KV = """\
- name: chat
  modelURL: Qwen/Qwen2.5-0.5B-Instruct
  hfTokenRequired: false
  replicaCount: 2
  lmcache: {cpuOffloadingBufferSize: 20}
- name: code
  modelURL: Qwen/Qwen2.5-Coder-0.5B-Instruct
  hfTokenRequired: false
  lmcache: {}
"""
KVAWARE = {"VLLM_ROUTING_LOGIC": "kvaware"}
DISAGG = {"VLLM_ROUTING_LOGIC": "disaggregated_prefill", "VLLM_POD_SECURITY": "privileged"}


def render(tmp_path, models: str, env: dict, version: str, chart, overlay: str = ""):
    """`vllmctl render` with the chart check against `chart`: (result, values text or None)."""
    (tmp_path / "models.yaml").write_text(models)
    if overlay:
        (tmp_path / "values.override.yaml").write_text(overlay)
    result = run_cli("render", "-d", "out", cwd=tmp_path,
                     env={"VLLM_CHART_VERSION": version, "VLLM_CHART": str(chart), **env})
    out = tmp_path / "out" / "values.yaml"
    return result, out.read_text() if out.exists() else None


def env_of(container) -> dict:
    return {e["name"]: e.get("value") for e in container.get("env") or []}


def argv(container) -> list[str]:
    return [str(a) for a in (container.get("command") or []) + (container.get("args") or [])]


def after(args: list[str], flag: str) -> str:
    return args[args.index(flag) + 1]


@pytest.mark.parametrize("version", VERSIONS)
def test_kvaware_engines_report_to_the_routers_controller_on_every_chart_version(tmp_path, helm_bin, real_chart,
                                                                                 version):
    result, values = render(tmp_path, KV, KVAWARE, version, real_chart(version))
    assert result.code == 0, result.output
    docs = template_docs(helm_bin, real_chart(version), values)
    replies = version in ("0.1.11", "0.1.12")
    for model in ("chat", "code"):
        _, engine = _engine(docs, model)
        env, args = env_of(engine), argv(engine)
        assert after(args, "--kv-transfer-config") == '{"kv_connector":"LMCacheConnectorV1","kv_role":"kv_both"}'
        assert env["LMCACHE_USE_EXPERIMENTAL"] == "True" and env["LMCACHE_ENABLE_CONTROLLER"] == "True"
        assert env["LMCACHE_CONTROLLER_PULL_URL"] == "vllm-router-service:9000"
        assert env["LMCACHE_LMCACHE_WORKER_HEARTBEAT_TIME"] == "10"
        instance = next(e for e in engine["env"] if e["name"] == "LMCACHE_LMCACHE_INSTANCE_ID")
        assert instance["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"  # one id per replica
        assert env.get("LMCACHE_CONTROLLER_REPLY_URL") == ("vllm-router-service:9001" if replies else None)
    assert env_of(_engine(docs, "chat")[1])["LMCACHE_MAX_LOCAL_CPU_SIZE"] == "20"
    router = _find(docs, "Deployment", "vllm-deployment-router")["spec"]["template"]["spec"]["containers"][0]
    args = argv(router)
    assert after(args, "--routing-logic") == "kvaware" and after(args, "--lmcache-controller-port") == "9000"
    assert ("--lmcache-controller-reply-port" in args) == replies
    if replies:
        assert after(args, "--lmcache-controller-reply-port") == "9001"
        assert after(args, "--lmcache-controller-heartbeat-port") == "9002"
    ports = {p["port"] for p in _find(docs, "Service", "vllm-router-service")["spec"]["ports"]}
    assert ports >= ({9000, 9001, 9002} if replies else {9000})


@pytest.mark.parametrize("version", VERSIONS)
def test_a_kvaware_router_service_without_the_reply_port_is_refused(tmp_path, real_chart, version):
    # the overlay replaces the Service ports vllmctl adds (routerSpec.extraPorts is not vllmctl's key)
    result, values = render(tmp_path, KV, KVAWARE, version, real_chart(version), "routerSpec:\n  extraPorts: []\n")
    if version in ("0.1.11", "0.1.12"):
        assert result.code == 2 and values is None
        assert result.stderr.strip() == ("error: router, Deployment/vllm-deployment-router: the router Service has no "
                                         "port 9001, so engines cannot reach the LMCache controller there: add it to "
                                         "routerSpec.extraPorts (vllmctl does)")
    else:  # no reply port before 0.1.11: the controller's port 9000 is the chart's own
        assert result.code == 0, result.output


def _lint(helm_bin, chart, version: str, values: dict, models: str, env: dict, namespace: str = "") -> list[str]:
    """The chart check of `helm template` of hand-changed values (what rendering itself never writes);
    `namespace`: the Pod Security level to check against instead of VLLM_POD_SECURITY's."""
    import dataclasses
    import subprocess

    settings = Settings(chart_version=version, routing_logic=env["VLLM_ROUTING_LOGIC"],
                        pod_security=env.get("VLLM_POD_SECURITY", "baseline"))
    loaded = validate_text(models, "models.yaml", settings)
    settings = dataclasses.replace(settings, pod_security=namespace or settings.pod_security)
    proc = subprocess.run([helm_bin, "template", "vllm", str(chart), "--values", "-"], input=yaml.safe_dump(values),
                          capture_output=True, text=True, timeout=120, check=True)
    request = RenderRequest(models=loaded.models, settings=settings, chart_version=version, source="models.yaml",
                            api_key=True)
    return [str(f) for f in errors(lint(LintInput(proc.stdout, request, loaded.document)))]


@pytest.mark.parametrize("version", VERSIONS)
def test_the_chart_check_refuses_kvaware_with_an_engine_without_lmcache(tmp_path, helm_bin, real_chart, version):
    _, text = render(tmp_path, KV, KVAWARE, version, real_chart(version))
    values = yaml.safe_load(text)
    del values["servingEngineSpec"]["modelSpec"][1]["lmcacheConfig"]
    assert _lint(helm_bin, real_chart(version), version, values, KV, KVAWARE) == [
        "router, Deployment/vllm-deployment-router: routing logic kvaware needs LMCache with the controller on every "
        "engine, but code report nothing to it: give each model `lmcache: {}`"]
    del values["routerSpec"]["lmcacheControllerPort"]
    assert any("needs --lmcache-controller-port on the router" in f
               for f in _lint(helm_bin, real_chart(version), version, values, KV, KVAWARE))


@pytest.mark.parametrize("version", VERSIONS)
def test_a_disaggregated_pair_reaches_every_chart_version(tmp_path, helm_bin, real_chart, version):
    result, values = render(tmp_path, PD, DISAGG, version, real_chart(version))
    assert result.code == 0, result.output
    docs = template_docs(helm_bin, real_chart(version), values)
    for model, role, nixl, peer in (("chat-prefill", "kv_producer", "sender", "vllm-chat-engine-service"),
                                    ("chat", "kv_consumer", "receiver", "0.0.0.0")):
        pod, engine = _engine(docs, model)
        env, args = env_of(engine), argv(engine)
        assert pod["hostIPC"] is True and pod["hostPID"] is True
        assert f'"kv_role":"{role}"' in after(args, "--kv-transfer-config")
        assert env["LMCACHE_ENABLE_NIXL"] == "True" and env["LMCACHE_NIXL_ROLE"] == nixl
        assert env["LMCACHE_NIXL_RECEIVER_HOST"] == peer and env["LMCACHE_NIXL_RECEIVER_PORT"] == "55555"
        names = args[args.index("--served-model-name") + 1:][:2]
        assert set(names) == {"chat-prefill", "chat"} and names[0] == model
    router = _find(docs, "Deployment", "vllm-deployment-router")["spec"]["template"]["spec"]
    args = argv(router["containers"][0])
    assert after(args, "--routing-logic") == "disaggregated_prefill"
    assert after(args, "--prefill-model-labels") == "chat-prefill" and after(args, "--decode-model-labels") == "chat"
    assert not router.get("hostIPC")  # only the pair's engines get the host namespaces
    assert 55555 in {p["port"] for p in _find(docs, "Service", "vllm-chat-engine-service")["spec"]["ports"]}


@pytest.mark.parametrize("version", VERSIONS)
def test_disaggregated_prefill_without_the_routers_labels_or_in_a_baseline_namespace_is_refused(
        tmp_path, helm_bin, real_chart, version):
    result, values = render(tmp_path, PD, DISAGG, version, real_chart(version), "routerSpec:\n  extraArgs: []\n")
    assert result.code == 2 and values is None
    lines = result.stderr.strip().splitlines()
    assert lines == [f"{prefix}router, Deployment/vllm-deployment-router: routing logic disaggregated_prefill needs "
                     f"{flag} on the router: give one model `lmcache: {{role: {role}}}`"
                     for prefix, flag, role in (("error: ", "--prefill-model-labels", "prefill"),
                                                ("", "--decode-model-labels", "decode"))]
    (tmp_path / "values.override.yaml").unlink()
    _, text = render(tmp_path, PD, DISAGG, version, real_chart(version))
    baseline = _lint(helm_bin, real_chart(version), version, yaml.safe_load(text), PD, DISAGG, "baseline")
    assert baseline and all("breaks the Pod Security baseline profile" in f for f in baseline)
    assert {f.split(": ")[0] for f in baseline} == {"models.yaml:1:3", "models.yaml:5:3"}


@pytest.mark.parametrize("version", VERSIONS)
def test_prefix_min_match_length_reaches_the_router_where_the_chart_renders_it(tmp_path, helm_bin, real_chart,
                                                                             version):
    env = {"VLLM_ROUTING_LOGIC": "prefixaware", "VLLM_ROUTER_PREFIX_MIN_MATCH_LENGTH": "256"}
    result, values = render(tmp_path, KV.split("- name: code")[0], env, version, real_chart(version))
    if version != "0.1.12":
        assert result.code == 2 and "needs vllm-stack chart 0.1.12 or newer" in result.stderr
        return
    assert result.code == 0, result.output
    router = _find(template_docs(helm_bin, real_chart(version), values), "Deployment", "vllm-deployment-router")
    assert after(argv(router["spec"]["template"]["spec"]["containers"][0]), "--prefix-min-match-length") == "256"


def _example(start: str, lines: int) -> str:
    from tests.helpers import REPO

    text = (REPO / "models.example.yaml").read_text().splitlines()
    first = text.index(start)
    return "\n".join(line[2:] for line in text[first:first + lines]) + "\n"


@pytest.mark.parametrize(("start", "lines", "env"), [("# - name: qwen-kv", 8, KVAWARE),
                                                     ("# - name: llama-prefill", 8, DISAGG)])
def test_the_commented_examples_render_through_the_real_chart(tmp_path, helm_bin, real_chart, start, lines, env):
    result, values = render(tmp_path, _example(start, lines), env, "0.1.12", real_chart("0.1.12"))
    assert result.code == 0, result.output
    engines = [d for d in template_docs(helm_bin, real_chart("0.1.12"), values)
               if d["kind"] == "Deployment" and "model" in d["spec"]["template"]["metadata"]["labels"]]
    assert len(engines) == (1 if env is KVAWARE else 2)
    assert all("--kv-transfer-config" in argv(e["spec"]["template"]["spec"]["containers"][0]) for e in engines)
