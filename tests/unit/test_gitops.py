"""render --format helm|argocd|flux, the pure part: golden files, required fields, chart sources.

Regenerate the golden files after an intended change:
    VLLMCTL_UPDATE_GOLDEN=1 python3 -m pytest tests/unit/test_gitops.py -q
then review `git diff tests/unit/golden/gitops/`.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import jsonschema
import pytest
import yaml

from vllmctl.core import gitops
from vllmctl.core.gitops import RenderFormat
from vllmctl.core.render import GENERATED_BY, is_generated, render
from vllmctl.core.settings import Settings
from vllmctl.errors import InvalidInput
from vllmctl.workflows.models import validate_text
from vllmctl.workflows.render import render_request

GOLDEN = Path(__file__).parent / "golden" / "gitops"
UPDATE = os.environ.get("VLLMCTL_UPDATE_GOLDEN") == "1"

MODELS = """\
- name: chat
  modelURL: meta-llama/Llama-3.1-8B-Instruct
  requestGPU: 2
  hfTokenRequired: true
  env:
    WEIRD: "quote \\" colon: hash # brace { newline \\n unicode é 日本"
  vllmConfig:
    tensorParallelSize: 2
    extraArgs: ["--max-num-batched-tokens", 8192]
- name: small
  modelURL: Qwen/Qwen2.5-0.5B-Instruct
  hfTokenRequired: false
  pvcStorage: ""
"""
SETTINGS = Settings(namespace="llm", release="stack", chart_version="0.1.12", storage_class="standard")


def render_files(fmt: RenderFormat, settings: Settings = SETTINGS, text: str = MODELS) -> dict[str, str]:
    loaded = validate_text(text, "models.yaml", settings)
    request = render_request(settings, loaded)
    return gitops.files(fmt, request, render(request))


def docs(fmt: RenderFormat, settings: Settings = SETTINGS) -> dict[str, dict]:
    return {name: yaml.safe_load(text) for name, text in render_files(fmt, settings).items()}


# Schemas written here from the controllers' documented required fields (no downloads): what an
# apply or a controller would refuse or ignore when missing.
_META = {"type": "object", "required": ["name", "namespace"],
         "properties": {"name": {"type": "string", "minLength": 1}, "namespace": {"type": "string", "minLength": 1}}}
_NONEMPTY = {"type": "string", "minLength": 1}
SCHEMAS = {
    ("v1", "Namespace"): {
        "type": "object", "required": ["metadata"],
        "properties": {"metadata": {"type": "object", "required": ["name", "labels"],
                                    "not": {"required": ["namespace"]}}},
    },
    ("argoproj.io/v1alpha1", "Application"): {
        "type": "object", "required": ["metadata", "spec"],
        "properties": {"metadata": _META, "spec": {
            "type": "object", "required": ["project", "source", "destination"],
            "properties": {
                "source": {"type": "object", "required": ["repoURL", "chart", "targetRevision", "helm"],
                           "properties": {"repoURL": _NONEMPTY, "chart": _NONEMPTY, "targetRevision": _NONEMPTY,
                                          "helm": {"type": "object", "required": ["releaseName", "valuesObject"],
                                                   "properties": {"valuesObject": {"type": "object"}}}}},
                "destination": {"type": "object", "required": ["server", "namespace"]},
                "syncPolicy": {"type": "object", "properties": {
                    "syncOptions": {"type": "array", "items": {"type": "string"}}}},
            }}},
    },
    ("source.toolkit.fluxcd.io/v1", "HelmRepository"): {
        "type": "object", "required": ["metadata", "spec"],
        "properties": {"metadata": _META, "spec": {"type": "object", "required": ["url", "interval"],
                                                   "properties": {"url": _NONEMPTY}}},
    },
    ("helm.toolkit.fluxcd.io/v2", "HelmRelease"): {
        "type": "object", "required": ["metadata", "spec"],
        "properties": {"metadata": _META, "spec": {
            "type": "object", "required": ["interval", "chart", "values"],
            "properties": {"chart": {"type": "object", "required": ["spec"], "properties": {"spec": {
                "type": "object", "required": ["chart", "version", "sourceRef"],
                "properties": {"sourceRef": {"type": "object", "required": ["kind", "name"]}}}}},
                "values": {"type": "object"}}}},
    },
    ("external-secrets.io/v1", "ExternalSecret"): {
        "type": "object", "required": ["metadata", "spec"],
        "properties": {"metadata": _META, "spec": {"type": "object", "required": ["secretStoreRef", "target", "data"]}},
    },
}


def _golden_dir(fmt: RenderFormat) -> Path:
    return GOLDEN / fmt.value


@pytest.mark.parametrize("fmt", list(RenderFormat))
def test_golden(fmt):
    files = render_files(fmt)
    directory = _golden_dir(fmt)
    if UPDATE:
        directory.mkdir(parents=True, exist_ok=True)
        for stale in directory.glob("*.yaml"):
            stale.unlink()
        for name, text in files.items():
            (directory / name).write_text(text, encoding="utf-8")
    golden = {p.name: p.read_text(encoding="utf-8") for p in directory.glob("*.yaml")}
    assert sorted(files) == sorted(golden), "a different set of files (VLLMCTL_UPDATE_GOLDEN=1 to accept)"
    for name, text in files.items():
        assert text == golden[name], f"{fmt.value}/{name} differs from its golden file (VLLMCTL_UPDATE_GOLDEN=1)"


@pytest.mark.parametrize("fmt", list(RenderFormat))
def test_same_input_same_bytes_and_nothing_time_dependent(fmt):
    first, second = render_files(fmt), render_files(fmt)
    assert list(first) == list(second) and first == second
    for text in first.values():
        assert not re.search(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}", text), "a timestamp in generated output"


@pytest.mark.parametrize("fmt", list(RenderFormat))
def test_every_file_says_it_is_generated_and_from_what(fmt):
    for name, text in render_files(fmt).items():
        assert is_generated(text) and text.startswith(GENERATED_BY), name
        assert "from models.yaml (sha256 " in text.splitlines()[0] and "Do not edit" in text.splitlines()[1], name


@pytest.mark.parametrize("fmt", [RenderFormat.argocd, RenderFormat.flux])
def test_every_manifest_parses_and_has_what_its_controller_requires(fmt):
    kinds = []
    for name, doc in docs(fmt).items():
        key = (doc["apiVersion"], doc["kind"])
        assert key in SCHEMAS, f"{name}: unexpected {key}"
        jsonschema.validate(doc, SCHEMAS[key])
        kinds.append(doc["kind"])
        if doc["kind"] != "Namespace":
            assert doc["metadata"]["namespace"] == (
                SETTINGS.argocd_namespace if doc["kind"] == "Application" else SETTINGS.namespace
            ), name
    extra = ["Application"] if fmt is RenderFormat.argocd else ["HelmRepository", "HelmRelease"]
    assert sorted(kinds) == sorted(["Namespace", "ExternalSecret", "ExternalSecret", *extra])


def test_a_schema_here_would_catch_a_missing_field():
    app = docs(RenderFormat.argocd)[gitops.ARGOCD_FILE]
    del app["spec"]["source"]["targetRevision"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(app, SCHEMAS[("argoproj.io/v1alpha1", "Application")])


def test_argocd_application_pins_the_chart_and_carries_the_values():
    files = docs(RenderFormat.argocd)
    helm_values = yaml.safe_load(render_files(RenderFormat.helm)["values.yaml"])
    app = files[gitops.ARGOCD_FILE]
    source = app["spec"]["source"]
    assert (source["repoURL"], source["chart"], source["targetRevision"]) == (
        "https://vllm-project.github.io/production-stack", "vllm-stack", "0.1.12")
    assert source["helm"]["releaseName"] == "stack" and app["metadata"]["name"] == "stack"
    assert source["helm"]["valuesObject"] == helm_values
    env = source["helm"]["valuesObject"]["servingEngineSpec"]["modelSpec"][0]["env"]
    assert env == [{"name": "WEIRD", "value": 'quote " colon: hash # brace { newline \n unicode é 日本'}]
    assert app["spec"]["destination"] == {"server": "https://kubernetes.default.svc", "namespace": "llm"}
    assert app["spec"]["project"] == "default"
    assert "CreateNamespace=false" in app["spec"]["syncPolicy"]["syncOptions"]
    assert "finalizers" not in app["metadata"]  # deleting the Application must not delete model caches


def test_flux_release_points_at_its_repository_and_carries_the_values():
    files = docs(RenderFormat.flux)
    helm_values = yaml.safe_load(render_files(RenderFormat.helm)["values.yaml"])
    repo, release = files[gitops.FLUX_REPOSITORY_FILE], files[gitops.FLUX_RELEASE_FILE]
    ref = release["spec"]["chart"]["spec"]["sourceRef"]
    assert ref == {"kind": repo["kind"], "name": repo["metadata"]["name"], "namespace": repo["metadata"]["namespace"]}
    assert repo["spec"]["url"] == "https://vllm-project.github.io/production-stack" and "type" not in repo["spec"]
    assert release["spec"]["chart"]["spec"]["chart"] == "vllm-stack"
    assert release["spec"]["chart"]["spec"]["version"] == "0.1.12"
    assert release["spec"]["values"] == helm_values
    assert release["spec"]["releaseName"] == "stack" and release["spec"]["timeout"] == "30m"
    assert release["spec"]["upgrade"]["remediation"]["remediateLastFailure"] is True
    assert not release["spec"].get("install", {}).get("createNamespace")


@pytest.mark.parametrize("fmt", [RenderFormat.argocd, RenderFormat.flux])
def test_namespace_has_the_pod_security_labels(fmt):
    ns = docs(fmt)[gitops.NAMESPACE_FILE]
    assert ns["metadata"]["name"] == "llm"
    assert ns["metadata"]["labels"] == {
        "pod-security.kubernetes.io/enforce": "baseline",
        "pod-security.kubernetes.io/enforce-version": "latest",
        "pod-security.kubernetes.io/warn": "baseline",
        "pod-security.kubernetes.io/warn-version": "latest",
    }


def test_a_disaggregated_prefill_release_renders_its_namespace_privileged():
    from tests.unit.test_routing import PD

    settings = Settings(namespace="llm", release="stack", routing_logic="disaggregated_prefill",
                        pod_security="privileged")
    ns = yaml.safe_load(render_files(RenderFormat.argocd, settings, PD)[gitops.NAMESPACE_FILE])
    labels = ns["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "privileged"
    assert labels["pod-security.kubernetes.io/warn"] == "baseline"  # the API server still says what breaks baseline


def _values_of(fmt: RenderFormat) -> dict:
    files = docs(fmt)
    if fmt is RenderFormat.helm:
        return files["values.yaml"]
    if fmt is RenderFormat.argocd:
        return files[gitops.ARGOCD_FILE]["spec"]["source"]["helm"]["valuesObject"]
    return files[gitops.FLUX_RELEASE_FILE]["spec"]["values"]


@pytest.mark.parametrize("fmt", list(RenderFormat))
def test_secrets_are_references_only(fmt):
    assert all(doc["kind"] != "Secret" for doc in docs(fmt).values() if "kind" in doc)
    values = _values_of(fmt)
    assert values["servingEngineSpec"]["vllmApiKey"] == {"secretName": "vllm-api-key", "secretKey": "api-key"}
    assert values["routerSpec"]["vllmApiKey"] == {"secretName": "vllm-api-key", "secretKey": "api-key"}
    chat, small = values["servingEngineSpec"]["modelSpec"]
    assert chat["hf_token"] == {"secretName": "hf-token", "secretKey": "token"} and "hf_token" not in small


def test_the_chart_version_pulled_is_the_pinned_one_even_when_rendering_as_an_older_known_one():
    settings = Settings(chart_version="0.1.99")
    app = docs(RenderFormat.argocd, settings)[gitops.ARGOCD_FILE]
    assert app["spec"]["source"]["targetRevision"] == "0.1.99"


def test_an_oci_chart_is_pulled_from_its_registry():
    settings = Settings(chart="oci://ghcr.io/acme/charts/vllm-stack", chart_version="0.1.11")
    app = docs(RenderFormat.argocd, settings)[gitops.ARGOCD_FILE]["spec"]["source"]
    assert (app["repoURL"], app["chart"], app["targetRevision"]) == ("ghcr.io/acme/charts", "vllm-stack", "0.1.11")
    flux = docs(RenderFormat.flux, settings)
    repo = flux[gitops.FLUX_REPOSITORY_FILE]["spec"]
    assert repo == {"interval": "1h", "type": "oci", "url": "oci://ghcr.io/acme/charts"}
    assert flux[gitops.FLUX_RELEASE_FILE]["spec"]["chart"]["spec"]["chart"] == "vllm-stack"


@pytest.mark.parametrize("chart", ["./charts/vllm-stack", "vllm-stack-0.1.8.tgz", "oci://ghcr.io/acme/vllm-stack:0.1.8",
                                   "oci://vllm-stack"])
def test_a_chart_a_controller_cannot_pull_is_refused_naming_vllm_chart(chart):
    with pytest.raises(InvalidInput, match="VLLM_CHART="):
        gitops.chart_source(Settings(chart=chart))
    assert "values.yaml" in render_files(RenderFormat.helm, Settings(chart=chart))  # helm format still works


def test_argocd_settings_place_the_application():
    settings = Settings(argocd_namespace="gitops", argocd_project="ml-platform")
    app = docs(RenderFormat.argocd, settings)[gitops.ARGOCD_FILE]
    assert app["metadata"]["namespace"] == "gitops" and app["spec"]["project"] == "ml-platform"


def test_helm_format_is_the_plain_render():
    loaded = validate_text(MODELS, "models.yaml", SETTINGS)
    request = render_request(SETTINGS, loaded)
    assert render_files(RenderFormat.helm) == render(request).files()
