"""`vllmctl chart values`: the interface of one chart version as rows, with where each key is set."""

from __future__ import annotations

from vllmctl.core import chart_interface
from vllmctl.core.chart import KNOWN_VERSIONS
from vllmctl.core.chart_interface import split
from vllmctl.core.overlay import MODEL_ITEM, OWNED


def set_in(path: str) -> str:
    """Where a vllmctl user sets this chart key: a models.yaml field, a setting, or the overlay
    (values.override.yaml or VLLM_VALUES_FILE)."""
    key = path
    while key and key != MODEL_ITEM:  # the nearest owned key at or above (the model list owns no item keys)
        if key in OWNED and not MODEL_ITEM.startswith(key):
            return OWNED[key]
        key = split(key)[0]
    if path == MODEL_ITEM or path.startswith(MODEL_ITEM + "."):
        return "models.yaml `modelSpec:`"
    return "the overlay"


def previous(version: str) -> str | None:
    index = KNOWN_VERSIONS.index(version)
    return KNOWN_VERSIONS[index - 1] if index else None


def rows(version: str, prefix: str = "", against: str | None = None) -> list[dict]:
    """Every key of `version` starting with `prefix`, marked `added` when `against` (a version to
    compare with) lacks it; the keys only `against` has follow, marked `removed`."""
    iface = chart_interface.load(version)
    other = chart_interface.load(against).keys if against else {}
    out = []
    for path, key in sorted(iface.keys.items()):
        if not path.startswith(prefix):
            continue
        row: dict[str, object] = {"key": path, "type": "|".join(key.types), "set_in": set_in(path)}
        if key.has_default:
            row["default"] = key.default
        if key.enum:
            row["enum"] = list(key.enum)
        if key.open:
            row["open"] = True
        if against and path not in other:
            row["change"] = "added"
        out.append(row)
    for path in sorted(other):
        if path.startswith(prefix) and path not in iface.keys:
            out.append({"key": path, "type": "|".join(other[path].types), "set_in": "-",
                        "change": "removed"})
    return out
