"""The values overlay through the real CLI: bad overlays refused before anything runs (file:line:column,
exit 2, nothing written), good ones applied in order and named, and `chart values`."""

from __future__ import annotations

import json

import pytest

from tests.helpers import run_cli, vendor_chart

MODEL = "- name: chat\n  modelURL: Qwen/Qwen2.5-0.5B-Instruct\n  hfTokenRequired: false\n"
TOKEN = "hf_" + "aB3dE5gH7jK9mN1pQ3sT5vW7y"

# (id, chart version, values.override.yaml text or None, the entry's modelSpec: text or None,
#  expected "file:line:column:" and a phrase of the message)
BAD = [
    ("typo", "0.1.8", "routerSpec:\n  serviceTyp: NodePort\n", None,
     "values.override.yaml:2:3:", "did you mean 'serviceType'?"),
    ("typo-top", "0.1.8", "routerspec:\n  serviceType: NodePort\n", None,
     "values.override.yaml:1:1:", "did you mean 'routerSpec'?"),
    ("quoted-number", "0.1.8", "routerSpec:\n  servicePort: \"80\"\n", None,
     "values.override.yaml:2:16:", "must be a whole number, got '80'; remove the quotes"),
    ("enum", "0.1.8", "routerSpec:\n  serviceDiscovery: dns\n", None,
     "values.override.yaml:2:21:", "must be one of k8s, static"),
    ("bool", "0.1.12", "cacheserverSpec:\n  enabled: \"yes\"\n", None,
     "values.override.yaml:2:12:", "must be true or false"),
    ("list-for-map", "0.1.8", "routerSpec:\n  labels: [a, b]\n", None,
     "values.override.yaml:2:11:", "must be a mapping"),
    ("owned-setting", "0.1.8", "routerSpec:\n  replicaCount: 2\n", None,
     "values.override.yaml:2:3:", "use VLLM_ROUTER_REPLICAS instead"),
    ("owned-models", "0.1.8", "servingEngineSpec:\n  modelSpec: []\n", None,
     "values.override.yaml:2:3:", "use models.yaml"),
    ("owned-runtime", "0.1.12", "servingEngineSpec:\n  runtimeClassName: kata\n", None,
     "values.override.yaml:2:3:", "VLLM_RUNTIME_CLASS"),
    ("owned-router-cpu", "0.1.12", "routerSpec:\n  resources:\n    requests:\n      cpu: 2\n", None,
     "values.override.yaml:4:7:", "VLLM_ROUTER_REQUEST_CPU"),
    ("null-owned", "0.1.8", "routerSpec: null\n", None,
     "values.override.yaml:1:1:", "would delete keys vllmctl sets"),
    ("api-key-literal", "0.1.8", "servingEngineSpec:\n  vllmApiKey: s3cr3t\n", None,
     "values.override.yaml:2:3:", "set-api-key"),
    ("token-env", "0.1.12", f"routerSpec:\n  env:\n  - name: EXTRA\n    value: {TOKEN}\n", None,
     "values.override.yaml:4:12:", "looks like a token"),
    ("secret-named-env", "0.1.12", "servingEngineSpec:\n  env:\n  - name: DB_PASSWORD\n    value: hunter2\n", None,
     "values.override.yaml:4:12:", "valueFrom.secretKeyRef"),
    ("newer-key", "0.1.8", "servingEngineSpec:\n  serviceMonitor:\n    enabled: true\n", None,
     "values.override.yaml:2:3:", "vllm-stack 0.1.11, 0.1.12 have it (VLLM_CHART_VERSION is 0.1.8)"),
    ("alias", "0.1.8", "routerSpec:\n  labels: &l {a: b}\n  podAnnotations: *l\n", None,
     "values.override.yaml:2:11:", "anchors and aliases"),  # at the anchor: the alias is the same node
    ("duplicate", "0.1.8", "routerSpec:\n  serviceType: NodePort\n  serviceType: ClusterIP\n", None,
     "values.override.yaml:3:3:", "duplicate key 'serviceType'"),
    ("syntax", "0.1.8", "routerSpec:\n  serviceType: [NodePort\n", None,
     "values.override.yaml:2:25:", "invalid YAML"),  # the end of the last line, not the line after it
    ("not-a-mapping", "0.1.8", "- servingEngineSpec\n", None,
     "values.override.yaml:1:1:", "must be a mapping of chart keys"),
    ("model-typo", "0.1.8", None, "imagePullSecrets: regcred",
     "models.yaml:5:5:", "did you mean 'imagePullSecret'?"),
    ("model-owned", "0.1.8", None, "replicaCount: 2",
     "models.yaml:5:5:", "use `replicaCount` instead"),
    ("model-token", "0.1.8", None, f"hf_token: {TOKEN}",
     "models.yaml:5:15:", "set-hf-token"),
    ("model-newer", "0.1.8", None, "pvcAnnotations: {a: b}",
     "models.yaml:5:5:", "vllm-stack 0.1.10, 0.1.11, 0.1.12 have it"),
    ("model-type", "0.1.12", None, "vllmConfig:\n      maxLoras: \"4\"",
     "models.yaml:6:17:", "must be a whole number, got '4'; remove the quotes"),
    ("model-engine-flag", "0.1.12", None, "vllmConfig:\n      maxLoras: 0",
     "models.yaml:6:17:", "--max-loras must be at least 1"),  # the engine check, at the modelSpec: line
]


@pytest.mark.parametrize(("version", "values", "spec", "where", "phrase"), [c[1:] for c in BAD],
                         ids=[c[0] for c in BAD])
def test_bad_overlay_is_refused_before_anything_runs(tmp_path, version, values, spec, where, phrase):
    models = MODEL + (f"  modelSpec:\n    {spec}\n" if spec else "")
    (tmp_path / "models.yaml").write_text(models)
    if values is not None:
        (tmp_path / "values.override.yaml").write_text(values)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    result = run_cli("render", "-d", "out", cwd=tmp_path, env={"VLLM_CHART_VERSION": version})
    assert result.code == 2, result.output
    first = result.stderr.splitlines()[0]
    assert first.startswith(f"error: {where} "), result.stderr
    assert phrase in first, first
    assert "Traceback" not in result.output
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before  # nothing written, nothing changed
    if TOKEN in (values or "") + (spec or ""):
        assert TOKEN not in result.output  # the refusal never repeats the secret


def test_files_apply_in_order_and_are_named(tmp_path, real_chart):
    (tmp_path / "models.yaml").write_text(MODEL + "  modelSpec:\n    serviceAccountName: engine-sa\n")
    vendor_chart(tmp_path, real_chart)  # render checks the merged values with the chart, as after chart pull
    (tmp_path / "a.yaml").write_text("routerSpec:\n  servicePort: 8080\n  labels: {team: a}\n")
    (tmp_path / "b.yaml").write_text("routerSpec:\n  servicePort: 9090\n  podAnnotations: {x: y}\n")
    env = {"VLLM_VALUES_FILE": "a.yaml,b.yaml"}
    valid = run_cli("validate", "-o", "json", cwd=tmp_path, env=env)
    assert valid.code == 0 and json.loads(valid.stdout)["overlays"] == ["a.yaml", "b.yaml"]
    result = run_cli("render", "-d", "out", cwd=tmp_path, env=env)
    assert result.code == 0, result.output
    assert "values overlay: a.yaml" in result.stderr and "values overlay: b.yaml" in result.stderr
    import yaml

    text = (tmp_path / "out/values.yaml").read_text()
    assert "from models.yaml + a.yaml + b.yaml" in text.splitlines()[0]
    router = yaml.safe_load(text)["routerSpec"]
    assert router["servicePort"] == 9090  # the later file wins
    assert router["labels"] == {"team": "a"} and router["podAnnotations"] == {"x": "y"}  # maps merge
    assert router["replicaCount"] == 1  # vllmctl's own keys stay
    spec = yaml.safe_load(text)["servingEngineSpec"]["modelSpec"][0]
    assert spec["serviceAccountName"] == "engine-sa" and spec["name"] == "chat"
    missing = run_cli("validate", cwd=tmp_path, env={"VLLM_VALUES_FILE": "nope.yaml"})
    assert missing.code == 2 and "VLLM_VALUES_FILE: nope.yaml not found" in missing.stderr


def test_argocd_and_flux_carry_the_merged_values(tmp_path, real_chart):
    import yaml

    (tmp_path / "models.yaml").write_text(MODEL)
    vendor_chart(tmp_path, real_chart)
    (tmp_path / "values.override.yaml").write_text("routerSpec:\n  servicePort: 8080\n")
    for fmt, name, path in (("argocd", "argocd-application.yaml", ("spec", "source", "helm", "valuesObject")),
                            ("flux", "flux-helmrelease.yaml", ("spec", "values"))):
        assert run_cli("render", "--format", fmt, "-d", fmt, cwd=tmp_path).code == 0
        node = yaml.safe_load((tmp_path / fmt / name).read_text())
        for part in path:
            node = node[part]
        assert node["routerSpec"]["servicePort"] == 8080
        assert node["servingEngineSpec"]["modelSpec"][0]["name"] == "chat"


def test_chart_values_lists_marks_and_fits_80_columns():
    text = run_cli("chart", "values", "servingEngineSpec.modelSpec[]", "--version", "0.1.12")
    assert text.code == 0, text.output
    assert all(len(line) <= 80 for line in text.stdout.splitlines())
    assert "+ servingEngineSpec.modelSpec[].modelRevision" in text.stdout  # new in 0.1.12 (against 0.1.11)
    assert "set in models.yaml `modelRevision`" in text.stdout
    data = json.loads(run_cli("chart", "values", "routerSpec.", "-o", "json", "--version", "0.1.8",
                              "--against", "0.1.12").stdout)
    keys = {row["key"]: row for row in data["keys"]}
    assert keys["routerSpec.serviceType"]["default"] == "ClusterIP"
    assert keys["routerSpec.serviceType"]["set_in"] == "VLLM_ROUTER_EXPOSE"
    assert keys["routerSpec.servicePort"]["set_in"] == "the overlay"
    assert keys["routerSpec.replicaCount"]["set_in"] == "VLLM_ROUTER_REPLICAS"
    assert keys["routerSpec.pdb"]["change"] == "removed"  # only 0.1.12 has it
    bad = run_cli("chart", "values", "--version", "9.9.9")
    assert bad.code == 2 and "not a known chart version" in bad.stderr
