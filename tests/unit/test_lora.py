"""LoRA adapters, the pure rules: models.yaml schema and cross-field rules, rendered values, the
chart check of rendered objects, preflight's API requirement."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from vllmctl.core import lora
from vllmctl.core.models import ModelEntry, cross_field_problems
from vllmctl.core.preflight import ClusterFacts, check, required_apis
from vllmctl.core.render import model_view, yaml_paths
from vllmctl.core.settings import Settings

HF = {"name": "sql", "source": "huggingface", "repository": "yard1/llama-2-7b-sql-lora-test"}
LOCAL = {"name": "local-one", "source": "local", "path": "/data/lora-adapters/one"}


def entry(name="chat", **kw) -> ModelEntry:
    return ModelEntry(name=name, modelURL="org/model", **kw)


def messages(**kw) -> list[str]:
    return [m for _, m in cross_field_problems(entry(**kw), "vllm")]


# ---------------------------------------------------------------- schema
@pytest.mark.parametrize("adapter, fragment", [
    ({**HF, "credentials": "hf_abcdefghijklmnopqrstuvwxyz0123"}, "credentials must name a Secret"),
    ({**HF, "credentials": {"secretName": "s", "secretKey": "k", "value": "x"}}, "Extra inputs"),
    ({**HF, "credentials": {"secretName": "Not_A_Name", "secretKey": "k"}}, "secretName"),
    ({**HF, "credentials": {"secretName": "s", "secretKey": "a/b"}}, "secretKey must be a Secret data key"),
    ({**HF, "repository": None}, "needs repository: the Hub id"),
    ({**HF, "repository": "not-a-hub-id"}, "needs repository: the Hub id"),
    ({**HF, "name": "Upper"}, "DNS-1123 subdomain"),
    ({"name": "s3", "source": "s3"}, "needs repository (its URL) or path"),
    ({"name": "s3", "source": "s3", "repository": "https://x/y"}, "starting with s3://"),
    ({"name": "web", "source": "http", "repository": "ftp://x/y"}, "an http adapter's repository"),
    ({"name": "l", "source": "local"}, "a local adapter needs path"),
    ({"name": "l", "source": "local", "path": "relative/dir"}, "path must be absolute"),
    ({"name": "l", "source": "git", "path": "/x"}, "source"),
    ({**LOCAL, "replicas": -1}, "greater than or equal to 0"),
])
def test_adapter_fields_refuse_what_cannot_work(adapter, fragment):
    with pytest.raises(ValidationError) as e:
        entry(lora={"adapters": [adapter]})
    assert fragment in str(e.value)


def test_a_literal_credential_is_not_echoed_in_the_error():
    token = "hf_abcdefghijklmnopqrstuvwxyz0123"
    with pytest.raises(ValidationError) as e:
        entry(lora={"adapters": [{**HF, "credentials": token}]})
    assert token not in str(e.value.errors()[0]["msg"])


@pytest.mark.parametrize("field", ["maxLoras", "maxLoraRank"])
def test_lora_limits_are_positive_integers(field):
    for bad in (0, -1, "4", 1.5):
        with pytest.raises(ValidationError):
            entry(lora={field: bad})
    assert getattr(entry(lora={field: 1}).lora, field) == 1


def test_every_source_at_its_minimum_is_accepted():
    adapters = [HF, LOCAL, {"name": "s3-one", "source": "s3", "repository": "s3://bucket/a"},
                {"name": "web", "source": "http", "path": "/data/web"},
                {"name": "web2", "source": "http", "repository": "https://h/a.tar"},
                {**LOCAL, "name": "zero", "replicas": 0}]
    m = entry(lora={"adapters": adapters})
    assert [a.source for a in m.lora.adapters] == ["huggingface", "local", "s3", "http", "http", "local"]
    assert messages(lora={"adapters": adapters}) == []


# ---------------------------------------------------------------- cross-field rules
def test_duplicate_adapter_and_the_base_models_own_name_are_refused():
    found = cross_field_problems(entry(lora={"adapters": [LOCAL, LOCAL, {**LOCAL, "name": "chat"}]}), "vllm")
    assert [(loc, m.split(":")[0]) for loc, m in found] == [
        (("lora", "adapters", 1, "name"), "adapter 'local-one' is listed twice (first as adapters[0])"),
        (("lora", "adapters", 2, "name"), "adapter 'chat' has its base model's name"),
    ]


def test_hub_adapters_need_the_cache_volume_the_sidecar_downloads_into():
    (loc, message), = cross_field_problems(entry(pvcStorage="", lora={"adapters": [LOCAL, HF]}), "vllm")
    assert loc == ("lora", "adapters", 1, "source") and "set pvcStorage" in message
    assert messages(pvcStorage="1Gi", lora={"adapters": [HF]}) == []


@pytest.mark.parametrize("arg", ["--enable-lora", "--max-loras", "--max_loras=2", "--max-lora-rank=8"])
def test_lora_flags_by_hand_are_refused_beside_lora(arg):
    found = cross_field_problems(entry(vllmConfig={"extraArgs": ["--seed", "1", arg]}, lora={}), "vllm")
    assert [loc for loc, _ in found] == [("vllmConfig", "extraArgs", 2)]
    assert cross_field_problems(entry(vllmConfig={"extraArgs": [arg]}), "vllm") == []  # no lora: the user's


def test_runtime_updating_in_env_is_vllmctls_to_set():
    (loc, _), = cross_field_problems(entry(env={lora.RUNTIME_UPDATES: "True"}, lora={}), "vllm")
    assert loc == ("env", lora.RUNTIME_UPDATES)


def test_adapter_names_are_unique_across_the_release():
    a = entry("a", lora={"adapters": [LOCAL, {**LOCAL, "name": "b"}]})
    b = entry("b", lora={"adapters": [LOCAL]})
    found = lora.release_problems([(0, a), (3, b)])
    assert [(i, loc) for i, loc, _ in found] == [(0, ("lora", "adapters", 1, "name")),
                                                  (3, ("lora", "adapters", 0, "name"))]
    assert "is already model 'b'" in found[0][2] and "an adapter of model 'a'" in found[1][2]
    assert lora.release_problems([(0, a), (1, entry("c", lora={"adapters": [{**LOCAL, "name": "x"}]}))]) == []


def test_s3_and_http_without_a_path_warn_that_the_controller_does_not_download_them():
    m = entry(lora={"adapters": [{"name": "s", "source": "s3", "repository": "s3://b/a"}, LOCAL,
                                 {"name": "h", "source": "http", "repository": "https://h/a", "path": "/d/h"}]})
    (warning,) = lora.warnings(m)
    assert "'s' (s3) has no path" in warning


# ---------------------------------------------------------------- rendering
def settings() -> Settings:
    return Settings()


def test_engine_gets_the_switch_the_limits_and_runtime_updating():
    view = model_view(entry(env={"A": "1"}, vllmConfig={"extraArgs": ["--seed", "1"]},
                            lora={"maxLoraRank": 64, "adapters": [HF, LOCAL]}), settings(), False)
    assert view["enableLoRA"] is True
    assert view["vllmConfig"]["maxLoras"] == 2  # as many as are listed, by default
    assert view["vllmConfig"]["extraArgs"] == ["--served-model-name", "chat", "--seed", "1", "--max-lora-rank", "64"]
    assert view["env"] == [{"name": "A", "value": "1"}, {"name": lora.RUNTIME_UPDATES, "value": "True"}]


def test_explicit_max_loras_wins_and_no_lora_renders_nothing():
    assert model_view(entry(lora={"maxLoras": 8, "adapters": [LOCAL]}), settings(), False)["vllmConfig"][
        "maxLoras"] == 8
    assert "maxLoras" not in model_view(entry(lora={}), settings(), False)["vllmConfig"]
    plain = model_view(entry(), settings(), False)
    assert plain["enableLoRA"] is False and "maxLoras" not in plain["vllmConfig"] and plain["env"] == []


def test_lora_flags_point_back_at_their_models_yaml_keys():
    m = entry(vllmConfig={"extraArgs": ["--seed", "1"]}, lora={"maxLoraRank": 8})
    paths = yaml_paths(m)
    assert paths[("vllmConfig", "extraArgs", 2)] == paths[("vllmConfig", "extraArgs", 3)] == ("lora", "maxLoraRank")
    assert paths[("enableLoRA",)] == ("lora",) and paths[("vllmConfig", "maxLoras")] == ("lora", "adapters")
    assert yaml_paths(entry()) == {}


def test_adapters_render_with_secret_references_only():
    creds = {"secretName": "s3-creds", "secretKey": "config"}
    models = [entry(lora={"adapters": [HF, {**LOCAL, "replicas": 1},
                                       {"name": "s", "source": "s3", "repository": "s3://b/a", "credentials": creds}]}),
              entry("off", enabled=False, lora={"adapters": [{**LOCAL, "name": "never"}]})]
    api, hf = {"secretName": "vllm-api-key", "secretKey": "api-key"}, {"secretName": "hf-token", "secretKey": "token"}
    out = lora.adapter_values(models, api_key_ref=api, hf_token_ref=hf)
    assert [a["name"] for a in out] == ["sql", "local-one", "s"]
    assert all(a["baseModel"] == "chat" and a["vllmApiKey"] == api for a in out)
    assert out[0]["adapterSource"] == {"type": "huggingface", "adapterName": "sql",
                                       "repository": HF["repository"], "credentials": hf}
    assert out[1]["adapterSource"] == {"type": "local", "adapterName": "local-one", "adapterPath": LOCAL["path"]}
    assert out[1]["loraAdapterDeploymentConfig"] == {"algorithm": "default", "replicas": 1}
    assert out[2]["adapterSource"]["credentials"] == creds
    assert "vllmApiKey" not in lora.adapter_values(models, api_key_ref=None, hf_token_ref=hf)[0]
    assert lora.uses_adapters(models) and not lora.uses_adapters([models[1], entry(lora={})])


# ---------------------------------------------------------------- the chart check of rendered objects
def _adapter(name, base="chat", key="vllm-api-key"):
    return {"kind": "LoraAdapter", "metadata": {"name": name},
            "spec": {"baseModel": base, "vllmApiKey": {"secretName": key, "secretKey": "k"},
                     "adapterSource": {"type": "local", "adapterName": name}}}


CONTROLLER = {"kind": "Deployment", "metadata": {"name": "vllm-lora-controller"}}


def test_rendered_adapters_match_models_yaml():
    models = {"chat": entry(lora={"adapters": [LOCAL]})}
    assert lora.adapter_problems([_adapter("local-one"), CONTROLLER], models, "vllm", True) == []
    (missing, stray) = lora.adapter_problems([_adapter("other", base="ghost"), CONTROLLER], models, "vllm", True)
    assert missing[2:] == ("chat", ("lora", "adapters", 0, "name"), "error")
    assert "baseModel 'ghost' is no model" in stray[1] and stray[4] == "warning"


def test_older_charts_default_api_key_secret_and_a_missing_controller_are_errors():
    found = lora.adapter_problems([_adapter("local-one", key="vllm-secrets")], {}, "vllm", True)
    assert ["empty Secret vllm-secrets" in f[1] or "no LoRA controller" in f[1] for f in found] == [False, True, True]
    assert not any("empty Secret" in f[1] for f in
                   lora.adapter_problems([_adapter("x", key="vllm-secrets"), CONTROLLER], {}, "vllm", False))


def test_engine_pod_needs_the_switch_runtime_updating_and_the_sidecar_for_hub_adapters():
    m = entry(lora={"adapters": [HF]})
    bare = lora.engine_problems(m, {"containers": [{"name": "vllm"}]}, {"name": "vllm"}, [])
    assert [w for _, w in bare] == [("lora",), ("lora",), ("lora", "adapters", 0, "source")]
    engine = {"name": "vllm", "env": [{"name": lora.RUNTIME_UPDATES, "value": "True"}]}
    spec = {"containers": [engine, {"name": "sidecar"}]}
    assert lora.engine_problems(m, spec, engine, ["--enable-lora"]) == []
    assert lora.engine_problems(entry(), {}, {}, []) == []


# ---------------------------------------------------------------- preflight
def test_preflight_needs_the_lora_api_on_an_installed_release_only():
    (api,) = required_apis(None, lora=True)
    assert (api.group_version, api.kind) == (lora.LORA_API, "LoraAdapter")
    assert required_apis(None) == []
    (finding,) = [f for f in check([], ClusterFacts(), storage_class="", runtime_class="", update_strategy="Recreate",
                                   required=[api]) if f.rule == "api-missing"]
    assert "helm show crds" in finding.message
    served = ClusterFacts(served={lora.LORA_API: frozenset({"LoraAdapter"})})
    assert not [f for f in check([], served, storage_class="", runtime_class="", update_strategy="Recreate",
                                 required=[api]) if f.rule == "api-missing"]


def test_flux_keeps_the_charts_crds_applied_only_for_a_release_with_adapters():
    import yaml

    from tests.unit.test_gitops import MODELS, render_files
    from vllmctl.core import gitops

    def release(text):
        return yaml.safe_load(render_files(gitops.RenderFormat.flux, text=text)[gitops.FLUX_RELEASE_FILE])["spec"]

    plain = release(MODELS)
    assert "crds" not in plain["install"] and "crds" not in plain["upgrade"]
    with_lora = release(MODELS + "  lora: {adapters: [{name: a1, source: local, path: /data/a1}]}\n")
    assert with_lora["install"]["crds"] == with_lora["upgrade"]["crds"] == "CreateReplace"
    assert with_lora["values"]["loraAdapters"][0]["name"] == "a1"


def test_the_controllers_cluster_wide_objects_of_another_namespaces_release_are_refused():
    paths = lora.cluster_scoped("vllm")
    assert paths == ["/apis/rbac.authorization.k8s.io/v1/clusterroles/vllm-lora-controller",
                     "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/vllm-lora-controller"]
    assert lora.owner_problems("vllm", "team-a", {paths[0]: None, paths[1]: "team-a"}) == []
    (theirs, manual) = lora.owner_problems("vllm", "team-a", {paths[0]: "team-b", paths[1]: ""})
    assert "clusterrole 'vllm-lora-controller'" in theirs and "namespace 'team-b'" in theirs
    assert "clusterrolebinding" in manual and "outside helm" in manual and "VLLM_RELEASE" in manual
