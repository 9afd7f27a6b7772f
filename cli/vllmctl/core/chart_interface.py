"""The values interface of each supported vllm-stack chart version, as data.

The files in chart_data/ are derived from the chart packages by scripts/gen_chart_interface.py
(values.yaml, the templates, the repository's schema). A key is a dotted path where `[]` is any
item of a list and `*` any key of a map the chart iterates over; below an `open` key any key is
accepted (the chart passes that mapping through as is).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache, cached_property
from pathlib import Path

from vllmctl.core.chart import KNOWN_VERSIONS

DATA_DIR = Path(__file__).with_name("chart_data")


@dataclass(frozen=True)
class Key:
    path: str
    types: tuple[str, ...]
    has_default: bool
    default: object
    enum: tuple | None
    minimum: float | None
    maximum: float | None
    open: bool
    sources: str  # v: values.yaml, t: a template reads it, s: the repository's schema

    def accepts(self, value) -> bool:
        """Whether `value` has one of the key's types (null always: it deletes the key, as in helm)."""
        return value is None or "any" in self.types or any(_is(value, t) for t in self.types)


def _is(value, kind: str) -> bool:
    if kind == "string":
        return isinstance(value, str)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool) or (
            isinstance(value, float) and value.is_integer())
    if kind == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "object":
        return isinstance(value, dict)
    if kind == "array":
        return isinstance(value, list)
    return kind == "null" and value is None


class Interface:
    """One version's keys. Key objects are made on first use: a check touches few of ~450 keys."""

    def __init__(self, version: str, raw: dict) -> None:
        self.version = version
        self.raw = raw  # path -> the data file's entry
        self._made: dict[str, Key] = {}

    def get(self, path: str) -> Key | None:
        return self[path] if path in self.raw else None

    def __getitem__(self, path: str) -> Key:
        """The key at an interface path (KeyError when the chart has none)."""
        key = self._made.get(path)
        if key is None:
            item = self.raw[path]
            key = self._made[path] = Key(
                path, tuple(item["type"]), "default" in item, item.get("default"),
                tuple(item["enum"]) if "enum" in item else None, item.get("min"), item.get("max"),
                bool(item.get("open")), item.get("from", ""),
            )
        return key

    @cached_property
    def keys(self) -> dict[str, Key]:
        return {path: self[path] for path in self.raw}

    def child(self, parent: str, name: str) -> str | None:
        """The interface path of key `name` below `parent` ("" for the root), or None if it has none."""
        path = join(parent, name)
        if path in self.raw:
            return path
        star = join(parent, "*")
        return star if star in self.raw else None

    def names_below(self, parent: str) -> list[str]:
        return [name for path in self.raw for p, name in [split(path)] if p == parent and name not in ("*", "[]")]


def join(parent: str, name: str) -> str:
    if name == "[]":
        return parent + "[]"
    return f"{parent}.{name}" if parent else name


def split(path: str) -> tuple[str, str]:
    if path.endswith("[]"):
        return path[:-2], "[]"
    parent, _, name = path.rpartition(".")
    return parent, name


@cache
def load(version: str) -> Interface:
    text = (DATA_DIR / f"vllm-stack-{version}.json").read_text(encoding="utf-8")
    return Interface(version, json.loads(text)["keys"])


def versions_with(path: str) -> list[str]:
    """The known chart versions whose interface has this key."""
    return [v for v in KNOWN_VERSIONS if path in load(v).raw]
