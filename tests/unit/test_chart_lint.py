"""The chart check's rules on manifests shaped like the chart's output: each passes at its boundary and
refuses just past it, with one line naming the model, the object and the models.yaml line."""

from __future__ import annotations

import copy

import pytest
import yaml

from vllmctl.core.chart_lint import ERROR, WARNING, LintInput, lint
from vllmctl.core.render import RenderRequest
from vllmctl.core.settings import Settings
from vllmctl.workflows.models import validate_text

MODELS = """\
- name: chat
  modelURL: meta-llama/Llama-3.1-8B-Instruct
  requestGPU: 2
  hfTokenRequired: true
  vllmConfig:
    extraArgs: [-tp, '2']
"""
DEFAULTS = {"routerSpec": {"resources": {"limits": {"memory": "1000Mi"}}}}


def secret_env(name: str, secret: str, key: str) -> dict:
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}


def engine(**over) -> dict:
    container = {
        "name": "vllm", "image": "vllm/vllm-openai:v0.32.0",
        "command": ["vllm", "serve", "meta-llama/Llama-3.1-8B-Instruct", "--host", "0.0.0.0", "--port", "8000",
                    "--tensor-parallel-size", "2", "--served-model-name", "chat"],
        "env": [{"name": "HF_HOME", "value": "/data"}, secret_env("HF_TOKEN", "hf-token", "token"),
                secret_env("VLLM_API_KEY", "vllm-api-key", "api-key")],
        "resources": {"requests": {"cpu": "6", "memory": "16Gi", "nvidia.com/gpu": "2"},
                      "limits": {"nvidia.com/gpu": "2"}},
        "volumeMounts": [{"name": "vllm-storage", "mountPath": "/data"}, {"name": "shm", "mountPath": "/dev/shm"}],
    }
    spec = {"containers": [container],
            "volumes": [{"name": "vllm-storage", "persistentVolumeClaim": {"claimName": "vllm-chat-storage-claim"}},
                        {"name": "shm", "emptyDir": {"medium": "Memory", "sizeLimit": "20Gi"}}]}
    obj = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "vllm-chat-deployment-vllm"},
           "spec": {"template": {"metadata": {"labels": {"model": "chat"}}, "spec": spec}}}
    for key, value in over.items():
        (container if key in container or key in ("args",) else spec)[key] = value
    return obj


def router(args=("--routing-logic", "roundrobin"), memory="1000Mi") -> dict:
    container = {"name": "router-container", "image": "lmcache/lmstack-router:latest",
                 "args": ["--host", "0.0.0.0", *args],
                 "env": [secret_env("VLLM_API_KEY", "vllm-api-key", "api-key")],
                 "resources": {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"memory": memory}}}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "vllm-deployment-router"},
            "spec": {"template": {"metadata": {"labels": {}}, "spec": {"containers": [container]}}}}


PVC = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "vllm-chat-storage-claim"}}


def run(*objects, text: str = MODELS, claims=None, settings: Settings | None = None):
    settings = settings or Settings(chart_version="0.1.12")
    loaded = validate_text(text, "models.yaml", settings)
    request = RenderRequest(models=loaded.models, settings=settings, chart_version="0.1.12", source="models.yaml",
                            hf_token_models=frozenset({"chat"}), api_key=True)
    manifests = "---\n".join(yaml.safe_dump(o) for o in objects)
    return lint(LintInput(manifests, request, loaded.document, DEFAULTS, claims))


def only(findings, severity=ERROR):
    chosen = [f for f in findings if f.severity == severity]
    assert len(chosen) == 1, [str(f) for f in findings]
    return chosen[0]


def test_the_charts_shape_passes():
    assert run(engine(), router(), PVC) == []


# ---------------------------------------------------------------------- claims
def test_a_claim_the_release_does_not_create_is_refused_offline_and_allowed_when_the_cluster_has_it():
    found = only(run(engine(), router()))
    assert str(found).startswith("models.yaml:1:3: model 'chat', Deployment/vllm-chat-deployment-vllm: volume "
                                 "'vllm-storage' claims PersistentVolumeClaim 'vllm-chat-storage-claim'")
    assert "pod would stay Pending; set pvcStorage" in found.message
    assert run(engine(), router(), claims=frozenset({"vllm-chat-storage-claim"})) == []
    assert run(engine(), router(), claims=frozenset({"other"}))[0].severity == ERROR


def test_another_claim_is_a_warning_offline_and_an_error_when_the_cluster_lacks_it():
    obj = engine()
    obj["spec"]["template"]["spec"]["volumes"].append({"name": "t", "persistentVolumeClaim": {"claimName": "shared"}})
    assert "make sure it exists in namespace 'vllm'" in only(run(obj, router(), PVC), WARNING).message
    assert "nor exists in namespace 'vllm'" in only(run(obj, router(), PVC, claims=frozenset())).message
    assert run(obj, router(), PVC, claims=frozenset({"shared"})) == []


# ---------------------------------------------------------------------- parallelism
def test_tensor_parallelism_without_shm_points_at_the_users_flag():
    found = only(run(engine(volumeMounts=[{"name": "vllm-storage", "mountPath": "/data"}]), router(), PVC))
    assert (found.line, found.column) == (6, 17) and "no memory-backed emptyDir is mounted at /dev/shm" in found.message


def test_shm_must_be_memory_backed():
    disk = engine()
    disk["spec"]["template"]["spec"]["volumes"][1] = {"name": "shm", "emptyDir": {}}
    assert "/dev/shm" in only(run(disk, router(), PVC)).message


@pytest.mark.parametrize("flag", [["-pp", "2"], ["--pipeline_parallel_size=2"]])
def test_pipeline_parallelism_needs_gpus_for_tp_times_pp(flag):
    obj = engine()
    obj["spec"]["template"]["spec"]["containers"][0]["command"] += flag
    found = only(run(obj, router(), PVC))
    assert "tensor x pipeline parallelism 2 x 2 needs 4 GPUs but the container's GPU limit is 2" in found.message


def test_parallelism_without_any_gpu_is_refused_and_without_parallelism_no_gpu_is_fine():
    cpu = {"requests": {"cpu": "6", "memory": "16Gi"}}
    assert "GPU limit is none" in only(run(engine(resources=cpu), router(), PVC)).message
    single = engine(resources=cpu, volumeMounts=[{"name": "vllm-storage", "mountPath": "/data"}])
    single["spec"]["template"]["spec"]["containers"][0]["command"][7:9] = []
    assert run(single, router(), PVC) == []


# ---------------------------------------------------------------------- router
def test_session_routing_needs_its_key():
    found = only(run(engine(), router(("--routing-logic", "session")), PVC))
    assert found.subject == "router, Deployment/vllm-deployment-router" and "VLLM_ROUTER_SESSION_KEY" in found.message
    assert run(engine(), router(("--routing-logic", "session", "--session-key", "x-user-id")), PVC) == []


KV_MODELS = MODELS + "  lmcache: {}\n"
CONTROLLER = [{"name": "LMCACHE_ENABLE_CONTROLLER", "value": "True"},
              {"name": "LMCACHE_CONTROLLER_PULL_URL", "value": "vllm-router-service:9000"}]
KV_ARGS = ["--kv-transfer-config", '{"kv_connector":"LMCacheConnectorV1","kv_role":"kv_both"}']


def kv_engine(env=CONTROLLER, args=KV_ARGS, **over) -> dict:
    obj = engine(**over)
    container = obj["spec"]["template"]["spec"]["containers"][0]
    container["command"] += args
    container["env"] += env
    return obj


def router_service(*ports: int) -> dict:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "vllm-router-service"},
            "spec": {"ports": [{"name": f"p{p}", "port": p} for p in ports]}}


KVAWARE = ("--routing-logic", "kvaware", "--lmcache-controller-port", "9000")


def test_kvaware_with_lmcache_and_the_controller_on_every_engine_passes():
    kv = Settings(chart_version="0.1.12", routing_logic="kvaware")
    assert run(kv_engine(), router(KVAWARE), router_service(80, 9000), PVC, text=KV_MODELS, settings=kv) == []


@pytest.mark.parametrize(("engine_obj", "args", "ports", "expected"), [
    (engine(), KVAWARE, (80, 9000), "needs LMCache with the controller on every engine, but chat report nothing"),
    (kv_engine(env=[]), KVAWARE, (80, 9000), "needs LMCache with the controller on every engine, but chat"),
    (kv_engine(args=[]), KVAWARE, (80, 9000), "needs LMCache with the controller on every engine, but chat"),
    (kv_engine(), ("--routing-logic", "kvaware"), (80, 9000), "needs --lmcache-controller-port on the router"),
    (kv_engine(), ("--routing-logic", "kvaware", "--lmcache-controller-port", "9100"), (80, 9000, 9100),
     "listens on vllm-router-service:9100, but engines push elsewhere: chat (vllm-router-service:9000)"),
    (kv_engine(), (*KVAWARE, "--lmcache-controller-reply-port", "9001"), (80, 9000),
     "the router Service has no port 9001"),
])
def test_an_incomplete_kvaware_combination_is_one_error_naming_what_is_missing(engine_obj, args, ports, expected):
    kv = Settings(chart_version="0.1.12", routing_logic="kvaware")
    found = only(run(engine_obj, router(args), router_service(*ports), PVC, text=KV_MODELS, settings=kv))
    assert found.subject == "router, Deployment/vllm-deployment-router" and expected in found.message, found.message


PD_MODELS = """\
- name: prefill
  modelURL: Qwen/Qwen2.5-0.5B-Instruct
  hfTokenRequired: false
  pvcStorage: ""
  lmcache: {role: prefill}
- name: chat
  modelURL: Qwen/Qwen2.5-0.5B-Instruct
  hfTokenRequired: false
  pvcStorage: ""
  lmcache: {role: decode}
"""
PD = ("--routing-logic", "disaggregated_prefill", "--prefill-model-labels", "prefill", "--decode-model-labels", "chat")


def pd_engine(model: str, role: str, host: bool = True) -> dict:
    config = f'{{"kv_connector":"LMCacheConnectorV1","kv_role":"{role}"}}'
    obj = kv_engine(env=[], args=["--kv-transfer-config", config], volumeMounts=[], volumes=[], hostIPC=host,
                    hostPID=host)
    obj["metadata"]["name"] = f"vllm-{model}-deployment-vllm"
    obj["spec"]["template"]["metadata"]["labels"]["model"] = model
    container = obj["spec"]["template"]["spec"]["containers"][0]
    container["command"][7:9] = []  # no tensor parallelism
    container["env"] = [e for e in container["env"] if e["name"] != "HF_TOKEN"]
    return obj


def run_pd(*objects, pod_security="privileged"):
    # validated as the user would (privileged), checked as if the namespace stayed on baseline
    loaded = validate_text(PD_MODELS, "models.yaml", Settings(routing_logic="disaggregated_prefill",
                                                              pod_security="privileged"))
    settings = Settings(chart_version="0.1.12", routing_logic="disaggregated_prefill", pod_security=pod_security)
    request = RenderRequest(models=loaded.models, settings=settings, chart_version="0.1.12", source="models.yaml",
                            api_key=True)
    return lint(LintInput("---\n".join(yaml.safe_dump(o) for o in objects), request, loaded.document, DEFAULTS))


def test_a_complete_disaggregated_pair_passes_in_a_privileged_namespace():
    assert run_pd(pd_engine("prefill", "kv_producer"), pd_engine("chat", "kv_consumer"), router(PD)) == []


def test_host_namespaces_are_refused_unless_the_namespace_is_privileged_and_only_for_the_pair():
    settings = Settings(chart_version="0.1.12", routing_logic="disaggregated_prefill")
    with pytest.raises(Exception, match="VLLM_POD_SECURITY=privileged"):
        validate_text(PD_MODELS, "models.yaml", settings)
    objects = (pd_engine("prefill", "kv_producer"), pd_engine("chat", "kv_consumer"), router(PD))
    baseline = [f for f in run_pd(*objects, pod_security="baseline") if "Pod Security baseline" in f.message]
    assert len(baseline) == 4 and {f.message.rsplit(": ", 1)[1] for f in baseline} == {
        "spec.hostPID is true (host namespaces)", "spec.hostIPC is true (host namespaces)"}
    assert str(baseline[0]).startswith("models.yaml:1:3: model 'prefill', Deployment/vllm-prefill-deployment-vllm")
    # privileged relaxes hostIPC/hostPID of the pair's engines, nothing else: the router stays on baseline
    shared = router(PD)
    shared["spec"]["template"]["spec"]["hostIPC"] = True
    found = only(run_pd(objects[0], objects[1], shared))
    assert found.subject.startswith("router, ") and "spec.hostIPC is true" in found.message


@pytest.mark.parametrize(("args", "prefill_role", "expected"), [
    ((*PD[:2], *PD[4:]), "kv_producer", "needs --prefill-model-labels on the router"),
    (PD[:4], "kv_producer", "needs --decode-model-labels on the router"),
    (PD, "kv_both", "--prefill-model-labels names 'prefill', whose engine's KV role is kv_both, not kv_producer"),
    ((*PD[:3], "other", *PD[4:]), "kv_producer", "--prefill-model-labels names 'other', which is no engine"),
])
def test_an_incomplete_disaggregated_combination_is_refused(args, prefill_role, expected):
    found = only(run_pd(pd_engine("prefill", prefill_role), pd_engine("chat", "kv_consumer"), router(args)))
    assert found.subject.startswith("router, ") and expected in found.message, found.message


def test_router_memory_below_the_charts_default_is_a_warning_at_the_boundary():
    assert run(engine(), router(memory="1000Mi"), PVC) == []
    found = only(run(engine(), router(memory="999Mi"), PVC), WARNING)
    assert "999Mi is below vllm-stack 0.1.12's own default 1000Mi" in found.message


# ---------------------------------------------------------------------- secrets
def test_the_hf_token_must_come_from_the_secret():
    obj = engine()
    obj["spec"]["template"]["spec"]["containers"][0]["env"][1] = secret_env("HF_TOKEN", "other", "token")
    found = only(run(obj, router(), PVC))
    assert found.line == 4 and "HF_TOKEN does not come from the Secret 'hf-token'" in found.message


def test_literal_secrets_are_refused_in_env_args_and_config_maps():
    obj = engine()
    container = obj["spec"]["template"]["spec"]["containers"][0]
    container["env"].append({"name": "HUGGING_FACE_HUB_TOKEN", "value": "x"})
    container["env"].append({"name": "OTHER", "value": "hf_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"})
    container["command"] += ["--api-key", "sk-AbCdEfGhIjKlMnOpQrSt0123"]
    config = {"kind": "ConfigMap", "metadata": {"name": "c"},
              "data": {"k": "token Zx8Qp2Lm9Rt4Vb7Nc1Hs6Jd3Kf5Gw0Ya8Ue2Io4Pq7Ws9Ed1Rf"}}
    secret = {"kind": "Secret", "metadata": {"name": "vllm-secrets"}, "data": {"hf_token_chat": "aGZf"}}
    messages = [f.message for f in run(obj, router(), PVC, config, secret)]
    assert len(messages) == 6, messages
    assert any("sets HUGGING_FACE_HUB_TOKEN as a literal value" in m for m in messages)
    assert any("env OTHER holds what looks like a token" in m for m in messages)
    assert any("in its command line" in m for m in messages)
    assert any("--api-key would put the API key" in m for m in messages)
    assert any("data 'k' holds what looks like a token" in m for m in messages)
    assert any("the chart's own Secret holds values" in m for m in messages)


def test_without_the_api_key_the_engine_and_router_are_refused():
    obj = engine()
    del obj["spec"]["template"]["spec"]["containers"][0]["env"][2]
    assert "engine would serve without the API key" in only(run(obj, router(), PVC)).message


# ---------------------------------------------------------------------- images and resources
@pytest.mark.parametrize("image", ["vllm/vllm-openai:", ":v0.32.0", ""])
def test_image_and_tag_must_not_be_empty(image):
    assert "an image needs a repository and a tag" in only(run(engine(image=image), router(), PVC)).message


def test_an_image_by_digest_or_with_a_registry_port_is_fine():
    assert run(engine(image="registry:5000/vllm@sha256:" + "a" * 64), router(), PVC) == []
    assert run(engine(image="registry:5000/vllm:v1"), router(), PVC) == []


def test_requests_above_limits_are_refused_at_the_boundary():
    equal = {"requests": {"cpu": "6", "memory": "16Gi", "nvidia.com/gpu": "2"},
             "limits": {"cpu": "6", "memory": "16Gi", "nvidia.com/gpu": "2"}}
    assert run(engine(resources=equal), router(), PVC) == []
    over = copy.deepcopy(equal)
    over["limits"]["memory"] = "16383Mi"
    assert "requests memory 16Gi above its limit 16383Mi" in only(run(engine(resources=over), router(), PVC)).message
    gpu = copy.deepcopy(equal)
    gpu["limits"]["nvidia.com/gpu"] = "3"
    assert "request = limit" in only(run(engine(resources=gpu), router(), PVC)).message


def test_pod_security_violations_name_the_model_and_the_field():
    found = only(run(engine(hostIPC=True), router(), PVC))
    assert found.subject == "model 'chat', Deployment/vllm-chat-deployment-vllm"
    assert "Pod Security baseline profile the namespace enforces: spec.hostIPC is true" in found.message


def test_what_looks_like_a_secret_and_what_does_not():
    from vllmctl.core.engine_flags import looks_secret

    for secret in ("hf_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789", "Bearer sk-proj-AbCdEfGhIjKlMnOpQrSt0123",
                   "Zx8Qp2Lm9Rt4Vb7Nc1Hs6Jd3Kf5Gw0Ya8Ue2Io4Pq7Ws9Ed1Rf"):
        assert looks_secret(secret), secret
    for name in ("sk-learn-classifier-model-2024", "0123456789abcdef0123456789abcdef01234567",
                 "meta-llama/Llama-3.1-8B-Instruct", "environment=test,release=test", "hf_token_chat"):
        assert not looks_secret(name), name
