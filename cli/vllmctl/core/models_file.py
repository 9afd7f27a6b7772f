"""Reading models.yaml with positions, validating it, and editing it as text.

Edits are textual (append an entry, cut an entry's lines) rather than a re-dump of the whole
document, so comments, quoting, key order and formatting of every untouched line stay
byte-identical. Every edited text is parsed and validated again before anyone writes it.
"""

from __future__ import annotations

import difflib
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeGuard

from vllmctl.core import chart, safe_yaml
from vllmctl.core.input_file import SourceText, read_source
from vllmctl.core.problems import InvalidFile, Problem, shown
from vllmctl.errors import InvalidInput

if TYPE_CHECKING:
    from pydantic import BaseModel
    from ruamel.yaml.comments import CommentedSeq


class InvalidModels(InvalidFile):
    """Problems in a models file."""


@dataclass
class ModelsDocument:
    file: str
    text: str
    # ruamel's CommentedSeq (positions and style) from load_document(); a plain list from the quick
    # read-only load; None for an empty document
    root: list | None
    entries: list = field(default_factory=list)
    bom: bool = False  # the file starts with a UTF-8 byte-order mark, kept when it is rewritten

    def locate(self, loc: tuple, *, key: bool = False) -> tuple[int, int]:
        """1-based (line, column) of the node at `loc`, or of the deepest existing parent."""
        return safe_yaml.locate(self.root, loc, key=key)

    def problem(self, loc: tuple, message: str, *, key: bool = False) -> Problem:
        line, column = self.locate(loc, key=key)
        return Problem(self.file, line, column, message)

    @property
    def newline(self) -> str:
        return SourceText(self.file, self.text).newline

    def for_writing(self, text: str) -> str:
        """An edited text of this document as it goes back to disk (byte-order mark kept)."""
        return SourceText(self.file, text, self.bom).for_writing(text)


def parse_document(text: str, file: str, *, bom: bool = False) -> ModelsDocument:
    return parse_source(SourceText(file, text, bom))


def parse_source(source: SourceText) -> ModelsDocument:
    try:
        root = safe_yaml.parse(source)
    except InvalidFile as e:
        raise InvalidModels(e.problems) from None
    doc = ModelsDocument(file=source.file, text=source.text, root=root, bom=source.bom)
    if root is None:
        return doc
    if not isinstance(root, list):
        raise InvalidModels(
            [Problem(source.file, 1, 1, "the file must be a YAML list of models (entries starting with '- name: ...')")]
        )
    budget = [safe_yaml.MAX_VALUES]
    try:
        doc.entries = [safe_yaml.plain(root, source.file, budget=budget, at=(i,)) for i in range(len(root))]
    except InvalidFile as e:
        raise InvalidModels(e.problems) from None
    return doc


def load_document(path: Path) -> ModelsDocument:
    """The models file at `path`, read and parsed within core.input_file's and core.safe_yaml's bounds."""
    try:
        source = read_source(path)
    except FileNotFoundError:
        raise InvalidInput(
            f"{path} not found.", hint="Create it with `vllmctl add-model` or copy models.example.yaml."
        ) from None
    except InvalidFile as e:
        raise InvalidModels(e.problems) from None
    return parse_source(source)


def _did_you_mean(word: str, choices) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    if not close:
        close = [c for c in choices if c.lower() == word.lower()]
    return f"; did you mean '{close[0]}'?" if close else ""


# pydantic names each member of a union in the error's location: ('env', 'A', 'str'), ...
_UNION_MEMBERS = {"str": "a string", "int": "a whole number", "float": "a number", "bool": "true or false"}


def _label(loc: tuple) -> str:
    """The key a message names: the last key, with the list positions after it (`extraArgs[0]`)."""
    parts = list(loc)
    index = ""
    while parts and isinstance(parts[-1], int):
        index = f"[{parts.pop()}]" + index
    return (shown(str(parts[-1]), 40).strip("'") if parts else "entry") + index


def _message(err: dict, fields_at) -> str:
    loc = err["loc"]
    name = _label(loc)
    kind, value = err["type"], err.get("input")
    got = shown(value)
    if kind == "missing":
        return f"missing required key '{name}'"
    if kind == "extra_forbidden":
        return f"unknown key '{name}'{_did_you_mean(str(loc[-1]), fields_at(loc[:-1]))}"
    if value is None and kind not in ("value_error",):
        return f"'{name}' is empty (null): give it a value, or delete it"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        hint = "; remove the quotes" if isinstance(value, str) and value.strip().isdigit() else ""
        return f"'{name}' must be a whole number, got {got}{hint}"
    if kind in ("bool_type", "bool_parsing"):
        return f"'{name}' must be true or false, got {got}"
    if kind in ("string_type", "string_sub_type"):
        return f"'{name}' must be a string, got {got}; quote it"
    if kind in ("float_type", "float_parsing"):
        return f"'{name}' must be a number, got {got}"
    if kind == "greater_than_equal":
        return f"'{name}' must be at least {err['ctx']['ge']}, got {got}"
    if kind == "less_than_equal":
        return f"'{name}' must be at most {err['ctx']['le']} (what Kubernetes stores), got {got}"
    if kind == "literal_error":
        return f"'{name}' must be one of {err['ctx']['expected']}; got {got}"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return f"'{name}' must be a mapping of keys to values, got {got}"
    if kind == "list_type":
        return f"'{name}' must be a list, got {got}"
    if kind == "value_error":
        return f"'{name}': {err['ctx']['error']}"
    if kind == "union":
        return f"'{name}' {err['msg']}"
    return f"'{name}': {err['msg']}"


def _one_per_value(errors: Iterable[Mapping[str, Any]]) -> list[dict]:
    """One error per location: a union's members (str | int | ...) each fail for the same value;
    the user sees one message naming what the value may be."""
    grouped: dict[tuple, list[dict]] = {}
    for err in errors:
        loc = tuple(err["loc"])
        if loc and loc[-1] in _UNION_MEMBERS:
            loc = loc[:-1]
        grouped.setdefault(loc, []).append({**err, "loc": loc, "member": err["loc"][-1]})
    merged = []
    for loc, group in grouped.items():
        if len(group) == 1 or group[0].get("input") is None:
            merged.append(group[0])
            continue
        kinds = [_UNION_MEMBERS[g["member"]] for g in group if g["member"] in _UNION_MEMBERS]
        if "a number" in kinds and "a whole number" in kinds:
            kinds.remove("a whole number")
        merged.append({"type": "union", "loc": loc, "input": group[0].get("input"),
                       "msg": f"must be {', '.join(kinds[:-1])} or {kinds[-1]}, got {shown(group[0].get('input'))}"})
    return merged


def _is_model(annotation: object) -> TypeGuard[type[BaseModel]]:
    return isinstance(annotation, type) and hasattr(annotation, "model_fields")


def _fields_at(loc: tuple) -> list[str]:
    from vllmctl.core.models import ModelEntry

    model: type[BaseModel] = ModelEntry
    for part in loc:
        if isinstance(part, int):
            continue
        info = model.model_fields.get(str(part))
        annotation = getattr(info, "annotation", None)
        inner = [a for a in getattr(annotation, "__args__", (annotation,)) if _is_model(a)]
        if not inner:
            args = getattr(annotation, "__args__", ())
            inner = [a for arg in args for a in getattr(arg, "__args__", (arg,)) if _is_model(a)]
        if not inner:
            return []
        model = inner[0]
    return list(model.model_fields)


@dataclass(frozen=True)
class EntryError:
    loc: tuple  # within the entry
    message: str
    at_key: bool  # the key itself is wrong (unknown key), not its value


def validate_entry(raw: dict):
    """(the validated ModelEntry, []) or (None, every schema error of this one entry, as messages)."""
    from pydantic import ValidationError

    from vllmctl.core.models import ModelEntry

    try:
        return ModelEntry.model_validate(raw), []
    except ValidationError as e:
        return None, [
            # an unknown key, or a key without a value (null): the key is where the problem is
            EntryError(tuple(err["loc"]), _message(err, _fields_at),
                       err["type"] == "extra_forbidden" or err.get("input") is None)
            for err in _one_per_value(e.errors())
        ]


def validate_document(doc: ModelsDocument, *, release: str, chart_version: str):
    """Every model of the document, validated; or InvalidModels listing every problem."""
    from vllmctl.core import lora
    from vllmctl.core.models import cross_field_problems

    problems: list[Problem] = []
    models: list = []
    indexed: list = []  # (document index, entry) of the valid entries
    seen: dict[str, int] = {}
    for index, raw in enumerate(doc.entries):
        if not isinstance(raw, dict):
            problems.append(doc.problem((index,), "each model must be a mapping with at least name and modelURL"))
            continue
        entry, errors = validate_entry(raw)
        if entry is None:
            problems += [doc.problem((index, *e.loc), e.message, key=e.at_key) for e in errors]
            continue
        for loc, message in cross_field_problems(entry, release):
            problems.append(doc.problem((index, *loc), message))
        for key in raw:
            if not chart.supports(chart_version, key):
                since = chart.MODEL_KEY_SINCE[key]
                problems.append(
                    doc.problem(
                        (index, key),
                        f"'{key}' needs vllm-stack chart {since} or newer; VLLM_CHART_VERSION is {chart_version}",
                        key=True,
                    )
                )
        if entry.name in seen:
            first_line = doc.locate((seen[entry.name], "name"))[0]
            problems.append(
                doc.problem(
                    (index, "name"), f"duplicate model name '{entry.name}' (first defined on line {first_line})"
                )
            )
        else:
            seen[entry.name] = index
        models.append(entry)
        indexed.append((index, entry))
    problems += [doc.problem((index, *loc), message) for index, loc, message in lora.release_problems(indexed)]
    if problems:
        raise InvalidModels(problems)
    return models


# ---- editing -------------------------------------------------------------------------------


def _round_trip_root(doc: ModelsDocument) -> CommentedSeq | None:
    """The root with its positions and style, which edits need (load_document() gives one)."""
    from ruamel.yaml.comments import CommentedSeq

    if doc.root is not None and not isinstance(doc.root, CommentedSeq):
        raise TypeError("editing needs the document from load_document(), not the quick read-only load")
    return doc.root


def _entry_style(doc: ModelsDocument) -> tuple[int, int]:
    """(dash column, key offset after the dash) of the document's existing entries."""
    root = _round_trip_root(doc)
    if root and doc.entries and isinstance(doc.entries[0], dict) and doc.entries[0]:
        dash_line, key_col = root.lc.item(0)
        line_text = doc.text.splitlines()[dash_line]
        dash_col = line_text.index("-")
        return dash_col, max(key_col - dash_col, 2)
    return 0, 2


def entry_text(entry: dict, dash_col: int = 0, offset: int = 2) -> str:
    yaml = safe_yaml.round_trip_yaml()
    yaml.indent(mapping=offset, sequence=offset, offset=0)
    yaml.width = 4096
    buf = io.StringIO()
    yaml.dump([entry], buf)
    prefix = " " * dash_col
    return "".join(prefix + line if line.strip() else line for line in buf.getvalue().splitlines(True))


def append_entry(doc: ModelsDocument, entry: dict) -> str:
    """The document's text with `entry` appended as a new list item."""
    root = _round_trip_root(doc)
    if root is not None and root.fa.flow_style():
        raise InvalidInput(f"{doc.file} holds its list in flow style ([...]); rewrite it as a block list to edit it.")
    text, newline = doc.text, doc.newline  # a CRLF file stays CRLF
    if text and not text.endswith("\n"):
        text += newline
    separator = newline if text.strip() else ""
    return text + separator + entry_text(entry, *_entry_style(doc)).replace("\n", newline)


def remove_entry(doc: ModelsDocument, index: int) -> str:
    """The document's text without entry `index`: its lines, and the blank line that preceded it."""
    root = _round_trip_root(doc)
    assert root is not None, "an entry index into an empty document"
    lines = doc.text.splitlines(True)
    start, _ = root.lc.item(index)
    dash_col = lines[start].index("-")
    end = start + 1
    while end < len(lines):
        stripped = lines[end].strip()
        indent = len(lines[end]) - len(lines[end].lstrip())
        if stripped and indent <= dash_col:
            break
        end += 1
    # Trailing blank lines of the block stay with what follows; keep exactly one separator.
    while end - 1 > start and not lines[end - 1].strip():
        end -= 1
    if start > 0 and not lines[start - 1].strip():
        start -= 1
    return "".join(lines[:start] + lines[end:])
