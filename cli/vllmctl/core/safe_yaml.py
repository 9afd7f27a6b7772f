"""YAML from a user's file, bounded: no construct can make vllmctl hang, recurse or fill memory.

- nesting deeper than MAX_DEPTH and more than MAX_NODES keys and values are refused while
  composing (the composer recurses per level; each node costs parse time);
- aliases and merge keys are allowed (anchors shared by models are common), but the values they
  expand to are counted when the document becomes plain data, and more than MAX_VALUES is
  refused: a billion-laughs document of a few hundred bytes would otherwise expand to 10^9;
- the bytes were already checked by core.input_file (size, encoding, control characters).

Every refusal is one `file:line:column:` line (core.problems). `load_text`, over the text
core.input_file.read_source checked, is the one entry point for every YAML file vllmctl reads:
models.yaml here, the values overlay in its own module.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

from vllmctl.core.gc_pause import gc_paused
from vllmctl.core.input_file import SourceText
from vllmctl.core.problems import InvalidFile, Problem, existing_position

MAX_DEPTH = 32  # models.yaml needs 7 levels, a Helm values overlay rarely 15
# Keys and values as written: round-trip parsing costs about 100 us each, so 8,000 (some 500
# models of seven keys) parse in under a second; MAX_VALUES bounds what aliases and merge keys expand to.
MAX_NODES = 8_000
MAX_VALUES = 20_000


class _TooLarge(Exception):
    pass


class _TooManyNodes(Exception):
    def __init__(self, mark):
        self.mark = mark


def _bounded_composer():
    from ruamel.yaml.composer import Composer

    class BoundedComposer(Composer):
        """Counts nodes as they are composed and stops at MAX_NODES (max_depth bounds nesting)."""

        nodes = 0

        def compose_node(self, parent, index):
            self.nodes += 1
            if self.nodes > MAX_NODES:
                raise _TooManyNodes(self.parser.peek_event().start_mark)
            return super().compose_node(parent, index)

    return BoundedComposer


def round_trip_yaml():
    """A ruamel round-trip YAML instance with vllmctl's bounds (also what edits dump with)."""
    from ruamel.yaml import YAML

    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.max_depth = MAX_DEPTH
    yaml.Composer = _bounded_composer()
    return yaml


_TOO_DEEP = f"nested more than {MAX_DEPTH} levels deep; vllmctl reads no deeper"
_TOO_MANY = f"holds more than {MAX_NODES} keys and values; vllmctl reads no more (split the file)"


def _too_big(source: SourceText) -> None:
    """Refuses nesting deeper than MAX_DEPTH and more than MAX_NODES nodes before ruamel sees them:
    ruamel's scanner keeps every open flow collection as a possible simple key and reads the whole
    of `[[[[...` (seconds of CPU for 20,000 levels) before its composer counts levels, and composes
    8,000 nodes in about a second before its own count stops; libyaml's events take milliseconds."""
    verdict, mark = _libyaml_scan(source.text, stop_at_alias=False)
    if verdict in ("deep", "many"):
        what = _TOO_DEEP if verdict == "deep" else _TOO_MANY
        raise InvalidFile([Problem(source.file, mark.line + 1, mark.column + 1, what)])


def parse(source: SourceText):
    """The round-trip document (ruamel: comments and positions kept), or InvalidFile."""
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    _too_big(source)
    try:
        with gc_paused(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ruamel warns on reused anchors: valid YAML
            return round_trip_yaml().load(source.text)
    except MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line, col = existing_position(source.text, mark.line + 1, mark.column + 1) if mark else (1, 1)
        what = (e.problem or e.context or "invalid YAML").strip()
        what = _TOO_DEEP if "maximum depth" in what else f"invalid YAML: {what.splitlines()[0]}; fix the syntax"
        raise InvalidFile([Problem(source.file, line, col, what)]) from None
    except _TooManyNodes as e:
        raise InvalidFile([Problem(source.file, e.mark.line + 1, e.mark.column + 1, _TOO_MANY)]) from None
    except YAMLError as e:  # the reader's own errors carry no mark (the bytes were checked before)
        raise InvalidFile([Problem(source.file, 1, 1, f"invalid YAML: {str(e).splitlines()[0]}")]) from None


def locate(root, loc: tuple, *, key: bool = False) -> tuple[int, int]:
    """1-based (line, column) of the node at `loc` in a round-trip document, or of the deepest
    existing parent (a missing key is reported where its mapping is)."""
    node, position = root, (0, 0)
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


def _plain(node, budget: list[int]):
    budget[0] -= 1
    if budget[0] < 0:
        raise _TooLarge
    if isinstance(node, dict):
        return {str(k): _plain(v, budget) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v, budget) for v in node]
    for kind in (bool, int, float, str):  # ruamel's round-trip subclasses as the plain types
        if isinstance(node, kind):
            return kind(node)
    return node


def plain(root, file: str, *, budget: list[int] | None = None, at: tuple = ()):
    """`root` (or its part at `at`) as plain Python data, counting every value aliases and merge
    keys expand to against `budget` (shared by calls; MAX_VALUES when not given)."""
    budget = budget if budget is not None else [MAX_VALUES]
    node = root
    for part in at:
        node = node[part]
    try:
        return _plain(node, budget)
    except (_TooLarge, RecursionError):
        line, column = locate(root, at)
        raise InvalidFile([Problem(file, line, column, f"expands to more than {MAX_VALUES} values through "
                                   "aliases or merge keys; vllmctl refuses it (write the values out)")]) from None


def _libyaml_scan(text: str, *, stop_at_alias: bool):
    """("alias" | "deep" | "many" | "error" | "ok", the mark of the event that decided it), read
    from libyaml's C parser events (made without recursion; PyYAML's C composer recurses per level
    and crashes at about 100,000)."""
    import yaml

    depth = nodes = 0
    starts, ends = (yaml.SequenceStartEvent, yaml.MappingStartEvent), (yaml.SequenceEndEvent, yaml.MappingEndEvent)
    try:
        for event in yaml.parse(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
            if isinstance(event, yaml.AliasEvent) and stop_at_alias:
                return "alias", event.start_mark
            if isinstance(event, starts):
                depth += 1
                nodes += 1
            elif isinstance(event, ends):
                depth -= 1
            elif isinstance(event, yaml.ScalarEvent):
                nodes += 1
            if depth > MAX_DEPTH:
                return "deep", event.start_mark
            if nodes > MAX_NODES:
                return "many", event.start_mark
    except yaml.YAMLError:
        return "error", None  # ruamel, which parses next, reports it with its own words
    return "ok", None


def within_bounds_without_aliases(text: str) -> bool:
    """Whether libyaml's C parser may load `text` as is: no alias, at most MAX_DEPTH levels and
    MAX_NODES nodes. False also for text it cannot parse."""
    return _libyaml_scan(text, stop_at_alias=True)[0] == "ok"


@dataclass(frozen=True)
class YamlFile:
    source: SourceText
    root: object  # ruamel round-trip node (positions, comments), None for an empty document
    data: object  # the same as plain Python data

    def locate(self, loc: tuple, *, key: bool = False) -> tuple[int, int]:
        return locate(self.root, loc, key=key)


def load_text(source: SourceText) -> YamlFile:
    root = parse(source)
    return YamlFile(source, root, plain(root, source.file))
