"""Reading models.yaml with positions, validating it, and editing it as text.

Edits are textual (append an entry, cut an entry's lines) rather than a re-dump of the whole
document, so comments, quoting, key order and formatting of every untouched line stay
byte-identical. Every edited text is parsed and validated again before anyone writes it.
"""

from __future__ import annotations

import difflib
import io
from dataclasses import dataclass, field
from pathlib import Path

from vllmctl.core import chart
from vllmctl.core.gc_pause import gc_paused
from vllmctl.errors import InvalidInput


@dataclass(frozen=True)
class Problem:
    file: str
    line: int  # 1-based
    column: int  # 1-based
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.message}"

    def as_dict(self) -> dict:
        return {"file": self.file, "line": self.line, "column": self.column, "message": self.message}


class InvalidModels(InvalidInput):
    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


@dataclass
class ModelsDocument:
    file: str
    text: str
    root: object  # ruamel CommentedSeq, or None for an empty document
    entries: list = field(default_factory=list)

    def locate(self, loc: tuple, *, key: bool = False) -> tuple[int, int]:
        """1-based (line, column) of the node at `loc`, or of the deepest existing parent."""
        node, position = self.root, (0, 0)
        for i, part in enumerate(loc):
            lc = getattr(node, "lc", None)
            if lc is None:
                break
            last = i == len(loc) - 1
            if isinstance(part, int) and isinstance(node, list) and part < len(node):
                position = lc.item(part)
                node = node[part]
            elif isinstance(part, str) and isinstance(node, dict) and part in node:
                position = lc.key(part) if key and last else lc.value(part)
                node = node[part]
            else:
                break
        return position[0] + 1, position[1] + 1

    def problem(self, loc: tuple, message: str, *, key: bool = False) -> Problem:
        line, column = self.locate(loc, key=key)
        return Problem(self.file, line, column, message)


def _yaml():
    from ruamel.yaml import YAML

    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    return yaml


def _plain(node):
    """ruamel's round-trip types as plain Python, so validation sees ordinary values."""
    if isinstance(node, dict):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    if isinstance(node, bool):
        return bool(node)
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    if isinstance(node, str):
        return str(node)
    return node


def parse_document(text: str, file: str) -> ModelsDocument:
    from ruamel.yaml.error import MarkedYAMLError

    try:
        with gc_paused():
            root = _yaml().load(text)
    except MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        what = (e.problem or e.context or "invalid YAML").strip()
        raise InvalidModels([Problem(file, line, col, f"invalid YAML: {what}; fix the syntax")]) from None
    doc = ModelsDocument(file=file, text=text, root=root)
    if root is None:
        return doc
    if not isinstance(root, list):
        raise InvalidModels(
            [Problem(file, 1, 1, "the file must be a YAML list of models (entries starting with '- name: ...')")]
        )
    doc.entries = [_plain(entry) for entry in root]
    return doc


def load_document(path: Path) -> ModelsDocument:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidInput(
            f"{path} not found.", hint="Create it with `vllmctl add-model` or copy models.example.yaml."
        ) from None
    except UnicodeDecodeError as e:
        raise InvalidInput(f"{path} is not UTF-8 text ({e.reason} at byte {e.start}).") from None
    return parse_document(text, str(path))


def _did_you_mean(word: str, choices) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    if not close:
        close = [c for c in choices if c.lower() == word.lower()]
    return f"; did you mean '{close[0]}'?" if close else ""


def _message(err: dict, fields_at) -> str:
    loc = err["loc"]
    name = str(loc[-1]) if loc else "entry"
    kind, value = err["type"], err.get("input")
    if kind == "missing":
        return f"missing required key '{name}'"
    if kind == "extra_forbidden":
        return f"unknown key '{name}'{_did_you_mean(name, fields_at(loc[:-1]))}"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        hint = "; remove the quotes" if isinstance(value, str) and value.strip().isdigit() else ""
        return f"'{name}' must be a whole number, got {value!r}{hint}"
    if kind in ("bool_type", "bool_parsing"):
        return f"'{name}' must be true or false, got {value!r}"
    if kind in ("string_type", "string_sub_type"):
        return f"'{name}' must be a string, got {value!r}; quote it"
    if kind in ("float_type", "float_parsing"):
        return f"'{name}' must be a number, got {value!r}"
    if kind == "greater_than_equal":
        return f"'{name}' must be at least {err['ctx']['ge']}, got {value!r}"
    if kind == "literal_error":
        return f"'{name}' must be one of {err['ctx']['expected']}; got {value!r}"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return f"'{name}' must be a mapping of keys to values, got {value!r}"
    if kind == "list_type":
        return f"'{name}' must be a list, got {value!r}"
    if kind == "value_error":
        return f"'{name}': {err['ctx']['error']}"
    return f"'{name}': {err['msg']}"


def _fields_at(loc: tuple) -> list[str]:
    from vllmctl.core.models import ModelEntry

    model = ModelEntry
    for part in loc:
        if isinstance(part, int):
            continue
        info = model.model_fields.get(str(part))
        annotation = getattr(info, "annotation", None)
        inner = [a for a in getattr(annotation, "__args__", (annotation,)) if hasattr(a, "model_fields")]
        if not inner:
            args = getattr(annotation, "__args__", ())
            inner = [a for arg in args for a in getattr(arg, "__args__", (arg,)) if hasattr(a, "model_fields")]
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
            EntryError(tuple(err["loc"]), _message(err, _fields_at), err["type"] == "extra_forbidden")
            for err in e.errors()
        ]


def validate_document(doc: ModelsDocument, *, release: str, chart_version: str):
    """Every model of the document, validated; or InvalidModels listing every problem."""
    from vllmctl.core.models import cross_field_problems

    problems: list[Problem] = []
    models: list = []
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
    if problems:
        raise InvalidModels(problems)
    return models


# ---- editing -------------------------------------------------------------------------------


def _entry_style(doc: ModelsDocument) -> tuple[int, int]:
    """(dash column, key offset after the dash) of the document's existing entries."""
    if doc.root and doc.entries and isinstance(doc.entries[0], dict) and doc.entries[0]:
        dash_line, key_col = doc.root.lc.item(0)
        line_text = doc.text.splitlines()[dash_line]
        dash_col = line_text.index("-")
        return dash_col, max(key_col - dash_col, 2)
    return 0, 2


def entry_text(entry: dict, dash_col: int = 0, offset: int = 2) -> str:
    yaml = _yaml()
    yaml.indent(mapping=offset, sequence=offset, offset=0)
    yaml.width = 4096
    buf = io.StringIO()
    yaml.dump([entry], buf)
    prefix = " " * dash_col
    return "".join(prefix + line if line.strip() else line for line in buf.getvalue().splitlines(True))


def append_entry(doc: ModelsDocument, entry: dict) -> str:
    """The document's text with `entry` appended as a new list item."""
    if doc.root is not None and getattr(doc.root, "fa", None) is not None and doc.root.fa.flow_style():
        raise InvalidInput(f"{doc.file} holds its list in flow style ([...]); rewrite it as a block list to edit it.")
    text = doc.text
    if text and not text.endswith("\n"):
        text += "\n"
    separator = "\n" if text.strip() else ""
    return text + separator + entry_text(entry, *_entry_style(doc))


def remove_entry(doc: ModelsDocument, index: int) -> str:
    """The document's text without entry `index`: its lines, and the blank line that preceded it."""
    lines = doc.text.splitlines(True)
    start, _ = doc.root.lc.item(index)
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
