"""The chart check on the real vllm-stack chart of every supported version, with the real helm: each
bug of issue 11 in its scope (cache volume, /dev/shm, GPU math, router arguments and memory,
literal secrets, Pod Security) is now rendered the way the chart supports, or refused before any
rollout. Each "refused" case templates the values as the old rendering (or a values overlay)
would have produced them, so the check itself is what stops it."""

from __future__ import annotations

import copy

import pytest
import yaml

from vllmctl.adapters.chart_source import ChartRef
from vllmctl.adapters.helm import Helm
from vllmctl.core.chart import KNOWN_VERSIONS
from vllmctl.core.models_file import InvalidModels
from vllmctl.core.settings import Settings
from vllmctl.workflows import chart_check
from vllmctl.workflows import render as render_wf
from vllmctl.workflows.models import validate_text

MODELS = """\
- name: tp
  modelURL: Qwen/Qwen2.5-7B-Instruct
  requestGPU: 2
  hfTokenRequired: false
  vllmConfig:
    extraArgs: [--enforce-eager, -tp, '2']
- name: nocache
  modelURL: Qwen/Qwen2.5-0.5B-Instruct
  pvcStorage: ""
  hfTokenRequired: true
"""


@pytest.fixture(params=KNOWN_VERSIONS)
def chart(request, real_chart, helm_bin):
    version = request.param
    return ChartRef(str(real_chart(version)), None, None, version, True), Helm(None, executable=helm_bin)


def rendered_for(chart_ref: ChartRef, text: str = MODELS, **settings):
    s = Settings(chart=chart_ref.ref, chart_version=chart_ref.chart_version, **settings)
    loaded = validate_text(text, "models.yaml", s)
    return render_wf.render_models(s, loaded=loaded)


def check(chart, text: str = MODELS, values_change=None, **settings):
    chart_ref, helm = chart
    loaded, rendered = rendered_for(chart_ref, text, **settings)
    values = copy.deepcopy(rendered.values)
    if values_change:
        values_change(values)
    return chart_check.check(rendered, loaded.document, chart_ref, values=values, helm=helm)


def refused(chart, **kwargs) -> list[str]:
    with pytest.raises(InvalidModels) as info:
        check(chart, **kwargs)
    return [str(p) for p in info.value.problems]


def objects(manifest: str) -> dict[tuple[str, str], dict]:
    return {(o["kind"], o["metadata"]["name"]): o for o in yaml.safe_load_all(manifest) if isinstance(o, dict)}


def engine(manifest: str, name: str) -> tuple[dict, dict]:
    spec = objects(manifest)[("Deployment", f"vllm-{name}-deployment-vllm")]["spec"]["template"]["spec"]
    return spec, next(c for c in spec["containers"] if c["name"] == "vllm")


def spec_of(values: dict, name: str) -> dict:
    return next(m for m in values["servingEngineSpec"]["modelSpec"] if m["name"] == name)


def test_what_vllmctl_renders_passes_and_the_chart_does_what_each_model_needs(chart):
    result = check(chart)
    spec, container = engine(result.manifest, "tp")
    assert {"mountPath": "/dev/shm", "name": "shm"} in container["volumeMounts"]
    shm = next(v for v in spec["volumes"] if v["name"] == "shm")
    assert shm["emptyDir"]["medium"] == "Memory"
    assert container["command"].count("--tensor-parallel-size") == 1 and "-tp" not in container["command"]
    # "no cache volume": no claim anywhere, the model cache in /tmp
    spec, container = engine(result.manifest, "nocache")
    env = {e["name"]: e for e in container["env"]}
    assert env["HF_HOME"]["value"] == "/tmp"
    assert env["HF_TOKEN"]["valueFrom"]["secretKeyRef"] == {"name": "hf-token", "key": "token"}
    assert not [v for v in spec.get("volumes") or [] if "persistentVolumeClaim" in v]
    assert ("PersistentVolumeClaim", "vllm-nocache-storage-claim") not in objects(result.manifest)
    assert ("PersistentVolumeClaim", "vllm-tp-storage-claim") in objects(result.manifest)


def test_the_old_empty_pvc_storage_mounts_a_claim_no_version_creates_and_is_refused(chart):
    problems = refused(chart, values_change=lambda v: spec_of(v, "nocache").update(pvcStorage=""))
    assert len(problems) == 1
    assert problems[0].startswith("models.yaml:9:15: model 'nocache', Deployment/vllm-nocache-deployment-vllm: "
                                  "volume 'vllm-storage' claims PersistentVolumeClaim 'vllm-nocache-storage-claim'")


def test_tensor_parallelism_left_in_extra_args_gets_no_shm_and_is_refused(chart):
    def old_rendering(values):
        config = spec_of(values, "tp")["vllmConfig"]
        del config["tensorParallelSize"]
        config["extraArgs"] += ["-tp", "2"]

    (problem,) = refused(chart, values_change=old_rendering)
    assert problem.startswith("models.yaml:6:34: model 'tp', Deployment/vllm-tp-deployment-vllm: tensor x pipeline "
                              "parallelism 2 x 1 needs shared memory")


def test_parallelism_beyond_the_gpu_limit_is_refused_by_the_chart_check_too(chart):
    (problem,) = refused(chart, values_change=lambda v: spec_of(v, "tp").update(requestGPU=1))
    assert "needs 2 GPUs but the container's GPU limit is 1" in problem


def test_session_routing_needs_the_key_which_reaches_the_router(chart):
    (problem,) = refused(chart, routing_logic="session")
    assert problem.startswith("router, Deployment/vllm-deployment-router: routing logic session needs a session key")
    result = check(chart, routing_logic="session", router_session_key="x-user-id")
    args = objects(result.manifest)[("Deployment", "vllm-deployment-router")]["spec"]["template"]["spec"][
        "containers"][0]["args"]
    assert args[args.index("--session-key") + 1] == "x-user-id"


def test_kvaware_without_lmcache_is_refused_before_rollout_and_passes_the_check_with_it(chart):
    problems = refused(chart, routing_logic="kvaware")
    assert [p.split(": ", 1)[0] for p in problems] == ["models.yaml:1:9", "models.yaml:7:9"]
    assert all("VLLM_ROUTING_LOGIC=kvaware routes by the KV cache" in p for p in problems)
    with_lmcache = MODELS.replace("  hfTokenRequired: false\n", "  hfTokenRequired: false\n  lmcache: {}\n").replace(
        "  hfTokenRequired: true\n", "  hfTokenRequired: true\n  lmcache: {}\n")
    result = check(chart, with_lmcache, routing_logic="kvaware")
    _, container = engine(result.manifest, "tp")
    assert {"name": "LMCACHE_ENABLE_CONTROLLER", "value": "True"} in container["env"]


def test_disaggregated_prefill_without_roles_is_refused_before_rollout(chart):
    problems = refused(chart, routing_logic="disaggregated_prefill")
    assert "sends every request to one prefill and one decode engine" in problems[0]


def test_the_router_memory_warning_follows_each_versions_own_default(chart):
    chart_ref, _ = chart
    warnings = check(chart, router_limit_memory="768Mi").warnings
    if chart_ref.chart_version in ("0.1.8", "0.1.9"):  # their default is 500Mi
        assert warnings == []
    else:
        (warning,) = warnings
        assert f"768Mi is below vllm-stack {chart_ref.chart_version}'s own default 1000Mi" in warning
    assert check(chart).warnings == []  # vllmctl's default is the newest chart's


def test_a_literal_api_key_in_the_values_is_refused_in_the_manifests(chart):
    def leaked(values):
        spec_of(values, "tp")["vllmConfig"]["extraArgs"] += ["--api-key", "sk-AbCdEfGhIjKlMnOpQrSt0123"]

    problems = refused(chart, values_change=leaked)
    assert any("--api-key would put the API key" in p for p in problems)
    assert any("looks like a token or key in its command line" in p for p in problems)


def test_an_inline_hf_token_in_the_values_lands_in_the_charts_secret_and_is_refused(chart):
    problems = refused(chart, values_change=lambda v: spec_of(v, "nocache").update(hf_token="hf_abc"))
    assert any("the chart's own Secret holds values" in p for p in problems)


def test_host_ipc_from_lmcache_pd_breaks_pod_security_baseline(chart):
    def pd(values):
        spec_of(values, "tp")["lmcacheConfig"] = {"enabled": True, "enablePD": True, "nixlRole": "sender"}

    problems = refused(chart, values_change=pd)
    assert any("model 'tp', Deployment/vllm-tp-deployment-vllm: breaks the Pod Security baseline profile the "
               "namespace enforces: spec.hostIPC is true" in p for p in problems), problems
    assert any("spec.hostPID is true" in p for p in problems)


@pytest.mark.parametrize("version", ["0.1.8", "0.1.12"])
def test_install_refuses_a_finding_before_anything_is_written(tmp_path, kube_env, helm_bin, namespace,
                                                              test_server_chart, version):
    from kubernetes import client

    from tests.integration.deploy_helpers import helm_revisions, model, vllmctl, write_models

    write_models(tmp_path, model("m1"))
    env = {"VLLM_CHART": str(test_server_chart(version)), "VLLM_ROUTING_LOGIC": "session",
           "VLLM_API_KEY_ENABLED": "true", "VLLM_API_KEY": "sk-not-to-be-stored-0123456789"}
    result = vllmctl(tmp_path, kube_env, namespace, "install", "--yes", env=env)
    assert result.code == 2, result.stderr
    assert "router, Deployment/vllm-deployment-router: routing logic session needs a session key" in result.stderr
    assert helm_revisions(kube_env, helm_bin, namespace) == []
    with kube_env.api_client() as api:
        secrets = client.CoreV1Api(api).list_namespaced_secret(namespace).items
    assert not [s.metadata.name for s in secrets if s.metadata.name in ("vllm-api-key", "hf-token")]
    ok = vllmctl(tmp_path, kube_env, namespace, "install", "--yes", "--no-wait",
                 env={**env, "VLLM_ROUTER_SESSION_KEY": "x-user-id"})
    assert ok.code == 0, ok.stderr
