"""chart values: the pinned chart's values interface (keys, types, defaults, where each is set)."""

from __future__ import annotations

import textwrap
from typing import Annotated

import typer

from vllmctl import console
from vllmctl.commands.options import ChartVersionOpt, Output, OutputOpt, settings_from

WIDTH = 80


def _fold(row: dict, against: str | None) -> list[str]:
    """Two or more lines per key, folded to 80 columns: the key, then what it is and where it is set."""
    import json

    mark = {"added": "+ ", "removed": "- "}.get(row.get("change", ""), "  ")
    head = textwrap.wrap(row["key"], WIDTH - 2, break_on_hyphens=False) or [""]
    lines = [mark + head[0], *("  " + part for part in head[1:])]
    facts = [row["type"] + (" (any keys below)" if row.get("open") else "")]
    if "default" in row:
        facts.append("default " + json.dumps(row["default"], ensure_ascii=False))
    if "enum" in row:
        facts.append("one of " + ", ".join(map(str, row["enum"])))
    facts.append("set in " + row["set_in"])
    if "change" in row:
        facts.append(f"not in {against}" if row["change"] == "added" else f"only in {against}")
    text = "; ".join(facts)
    lines += textwrap.wrap(text, WIDTH, initial_indent="    ", subsequent_indent="      ", break_on_hyphens=False)
    return lines


def values(
    prefix: Annotated[str, typer.Argument(help="only keys starting with this, e.g. routerSpec.ingress")] = "",
    chart_version: ChartVersionOpt = None,
    version: Annotated[str | None, typer.Option("--version", help="another known chart version to list")] = None,
    against: Annotated[str | None, typer.Option(
        "--against", help="mark keys added or removed since this version [default: the previous one]")] = None,
    output: OutputOpt = Output.text,
) -> None:
    """List the chart's values keys: type, default, and where to set each (models.yaml, a setting, the overlay)."""
    from vllmctl.core import chart_values
    from vllmctl.core.chart import KNOWN_VERSIONS
    from vllmctl.errors import InvalidInput
    from vllmctl.workflows.models import chart_version_of

    chosen = version or chart_version_of(settings_from(chart_version=chart_version))[0]
    for flag, value in (("--version", chosen), ("--against", against)):
        if value is not None and value not in KNOWN_VERSIONS:
            raise InvalidInput(f"{flag} {value}: not a known chart version; use one of {', '.join(KNOWN_VERSIONS)}.")
    against = against or chart_values.previous(chosen)
    rows = chart_values.rows(chosen, prefix, against)
    if output is Output.json:
        console.emit_json({"chart": "vllm-stack", "version": chosen, "against": against, "keys": rows})
        return
    if not rows:
        raise InvalidInput(f"no key of vllm-stack {chosen} starts with {prefix!r}; try `vllmctl chart values`.")
    console.data("\n".join(line for row in rows for line in _fold(row, against)))
    marks = f"; + not in {against}, - only in {against}" if against else ""
    console.info(f"vllm-stack {chosen}: {len(rows)} key(s){marks}")
