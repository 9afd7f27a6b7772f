"""render: models.yaml -> values.yaml + ExternalSecret manifests in an output directory."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from vllmctl.adapters.files import write_atomic
from vllmctl.core.hf_policy import needs_hf_token
from vllmctl.core.render import RenderRequest, Rendered, render
from vllmctl.core.settings import Settings
from vllmctl.workflows import models as models_wf


@dataclass
class RenderResult:
    rendered: Rendered
    paths: list[str]
    source: str
    chart_version: str
    model_count: int
    warnings: list[str]


def render_models(settings: Settings, *, gated: dict[str, bool] | None = None, allow_example: bool = True):
    """Rendered values for the current models file (offline unless `gated` answers come from the Hub)."""
    loaded = models_wf.load(settings, allow_example=allow_example)
    gated = gated or {}
    hf_models = frozenset(
        m.name for m in loaded.models if needs_hf_token(m, gated.get(m.modelURL))[0]
    )
    request = RenderRequest(
        models=loaded.models,
        settings=settings,
        chart_version=loaded.chart_version,
        source=Path(loaded.document.file).name,
        source_text=loaded.document.text,
        hf_token_models=hf_models,
        api_key=settings.api_key_enabled,
    )
    return loaded, render(request)


def render_to_dir(settings: Settings, output_dir: Path) -> RenderResult:
    loaded, rendered = render_models(settings)
    paths = []
    for name, text in rendered.files().items():
        path = output_dir / name
        write_atomic(path, text)
        paths.append(str(path))
    return RenderResult(
        rendered=rendered,
        paths=paths,
        source=loaded.document.file,
        chart_version=loaded.chart_version,
        model_count=sum(1 for m in loaded.models if m.enabled),
        warnings=loaded.warnings,
    )
