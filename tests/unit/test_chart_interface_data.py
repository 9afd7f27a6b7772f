"""The committed chart interface data is what scripts/gen_chart_interface.py derives from the real
chart packages (values.yaml, templates, the repository's schema), and says what the chart reads."""

from __future__ import annotations

import pytest
from scripts import gen_chart_interface as gen

from vllmctl.core import chart_interface

VERSIONS = gen.VERSIONS


@pytest.mark.parametrize("version", VERSIONS)
def test_committed_data_matches_the_chart_package(version, real_chart, chart_schema):
    fresh = gen.dumps(gen.version_data(real_chart(version), chart_schema(version), version))
    committed = (gen.DATA_DIR / f"vllm-stack-{version}.json").read_text(encoding="utf-8")
    assert fresh == committed, f"regenerate with: python3 scripts/gen_chart_interface.py ({version} differs)"


@pytest.mark.parametrize("version", VERSIONS)
def test_every_values_key_is_in_the_interface(version, real_chart):
    import yaml

    values_text, _ = gen.read_package(real_chart(version))
    iface = chart_interface.load(version)

    def walk(node, parent):
        for key, value in node.items():
            path = iface.child(parent, str(key))
            assert path is not None, f"{parent}.{key} of values.yaml is missing from the {version} data"
            if iface.keys[path].open:
                continue
            if isinstance(value, dict):
                walk(value, path)
            elif isinstance(value, list) and (path + "[]") in iface.keys and not iface.keys[path + "[]"].open:
                for item in value:
                    if isinstance(item, dict):
                        walk(item, path + "[]")

    walk(yaml.safe_load(values_text), "")


def test_template_reads_are_found():
    """Idioms of the chart's templates: range variables, `with`, hasKey, helpers with an argument."""
    templates = {
        "templates/_helpers.tpl": '{{- define "probe" }}{{ .initialDelaySeconds }}{{ .httpGet.path }}{{- end }}',
        "templates/d.yaml": """
{{- range $modelSpec := .Values.servingEngineSpec.modelSpec }}
{{- with $modelSpec.vllmConfig }}{{ if hasKey . "maxModelLen" }}{{ .maxModelLen | quote }}{{ end }}{{ end }}
{{- $c := $modelSpec.initContainer }}{{ $c.image }}
{{- with $.Values.routerSpec.affinity }}{{ toYaml . }}{{ end }}
{{- end }}
{{- with .Values.servingEngineSpec.startupProbe }}{{ include "probe" . }}{{ end }}
{{- range $name, $route := .Values.routerSpec.route }}{{ $route.enabled }}{{ end }}
""",
    }
    values = "servingEngineSpec:\n  modelSpec: []\nrouterSpec:\n  route: {main: {enabled: false}}\n"
    keys = gen.interface(values, templates, None, "0")["keys"]
    for path in (
        "servingEngineSpec.modelSpec[].vllmConfig.maxModelLen",
        "servingEngineSpec.modelSpec[].initContainer.image",
        "servingEngineSpec.startupProbe.initialDelaySeconds",
        "servingEngineSpec.startupProbe.httpGet.path",
        "routerSpec.route.*.enabled",
    ):
        assert "t" in keys[path]["from"], path
    assert keys["routerSpec.affinity"]["open"] is True
    assert "routerSpec.route.main" not in keys  # an instance of the iterated map
    assert not keys["servingEngineSpec.modelSpec[]"].get("open")


def test_versions_differ_where_the_chart_changed():
    assert chart_interface.versions_with("servingEngineSpec.modelSpec[].modelRevision") == ["0.1.12"]
    assert "0.1.8" not in chart_interface.versions_with("servingEngineSpec.modelSpec[].tolerations")
    key = chart_interface.load("0.1.12").keys["routerSpec.routingLogic"]
    assert "disaggregated_prefill_orchestrated" in key.enum
