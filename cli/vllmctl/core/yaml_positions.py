"""A YAML file as plain values plus the line and column of every key and value, loaded defensively.

For hand-written files vllmctl checks key by key (the values overlay). PyYAML's C composer gives
the node tree with positions quickly; values are built here from the nodes, so nothing but plain
data can come out: no anchors or aliases (a few lines could expand to gigabytes), no merge keys,
no tags beyond the core schema, no duplicate or non-string keys, bounded size and depth.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from vllmctl.core.gc_pause import gc_paused
from vllmctl.core.problems import existing_position

MAX_BYTES = 1 << 20
MAX_DEPTH = 64
_CORE = "tag:yaml.org,2002:"


class YamlProblem(ValueError):
    def __init__(self, line: int, column: int, message: str) -> None:
        super().__init__(message)
        self.line, self.column, self.message = line, column, message


@dataclass
class Located:
    value: object
    values: dict[tuple, tuple[int, int]] = field(default_factory=dict)  # path -> (line, column) of the value
    keys: dict[tuple, tuple[int, int]] = field(default_factory=dict)  # path -> (line, column) of its key

    def locate(self, loc: tuple, *, key: bool = False) -> tuple[int, int]:
        """1-based position of the node at `loc`, else of its deepest existing parent."""
        for end in range(len(loc), -1, -1):
            where = (self.keys if key and end == len(loc) else self.values).get(tuple(loc[:end]))
            if where:
                return where
        return 1, 1


def load(text: str) -> Located:
    """The document's plain value with positions; YamlProblem for anything but plain data."""
    import yaml

    if len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        raise YamlProblem(1, 1, f"file is larger than {MAX_BYTES // 1024} KiB; split it")
    try:
        _check_depth(yaml, text)
        with gc_paused():
            root = yaml.compose(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        what = (e.problem or e.context or "invalid YAML").strip()
        line, column = existing_position(text, mark.line + 1, mark.column + 1) if mark else (1, 1)
        raise YamlProblem(line, column, f"invalid YAML: {what}; fix the syntax") from None
    except yaml.YAMLError as e:
        raise YamlProblem(1, 1, f"invalid YAML: {e}") from None
    out = Located(None)
    if root is not None:
        with gc_paused():
            out.value = _Builder(yaml, out).build(root, (), 0)
    return out


def _check_depth(yaml, text: str) -> None:
    """PyYAML's C composer recurses once per nesting level, and 100,000 levels (100 KB of '[')
    crash the process; libyaml's parser makes the events without recursing, so count them first."""
    depth = 0
    for event in yaml.parse(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
        if isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
            depth += 1
            if depth > MAX_DEPTH:
                mark = event.start_mark
                raise YamlProblem(mark.line + 1, mark.column + 1, f"nested deeper than {MAX_DEPTH} levels")
        elif isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
            depth -= 1


class _Builder:
    def __init__(self, yaml, out: Located) -> None:
        constructor = yaml.constructor.SafeConstructor()
        self.scalar_node, self.sequence_node = yaml.ScalarNode, yaml.SequenceNode
        self.make = {tag: getattr(constructor, f"construct_yaml_{tag}") for tag in ("int", "float", "bool", "null")}
        self.out = out
        self.seen: set[int] = set()  # id() of every node built, to refuse aliases

    def build(self, node, path: tuple, depth: int):
        line, column = node.start_mark.line + 1, node.start_mark.column + 1
        if id(node) in self.seen:
            raise YamlProblem(line, column, "anchors and aliases (&, *) are not allowed; write the value out")
        self.seen.add(id(node))
        if depth > MAX_DEPTH:
            raise YamlProblem(line, column, f"nested deeper than {MAX_DEPTH} levels")
        self.out.values[path] = (line, column)
        tag = node.tag[len(_CORE):] if node.tag.startswith(_CORE) else node.tag
        if isinstance(node, self.scalar_node):
            if tag in ("str", "timestamp"):  # a timestamp stays text, as helm reads it
                return node.value
            if tag not in self.make:
                raise YamlProblem(line, column, f"tag {node.tag!r} is not allowed; plain values only")
            return self.make[tag](node)
        if isinstance(node, self.sequence_node):
            if tag != "seq":
                raise YamlProblem(line, column, f"tag {node.tag!r} is not allowed; plain lists only")
            return [self.build(item, (*path, i), depth + 1) for i, item in enumerate(node.value)]
        if tag != "map":
            raise YamlProblem(line, column, f"tag {node.tag!r} is not allowed; plain mappings only")
        mapping: dict = {}
        keys = self.out.keys
        for key_node, value_node in node.value:
            if not isinstance(key_node, self.scalar_node) or key_node.tag != _CORE + "str":
                what = "merge keys (<<)" if key_node.tag == _CORE + "merge" else "keys that are not text"
                raise YamlProblem(key_node.start_mark.line + 1, key_node.start_mark.column + 1,
                                  f"{what} are not allowed; quote the key or write it out")
            key, where = key_node.value, (*path, key_node.value)
            if key in mapping:
                raise YamlProblem(key_node.start_mark.line + 1, key_node.start_mark.column + 1,
                                  f"duplicate key '{key}' (first on line {keys[where][0]}); keep one")
            keys[where] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            mapping[key] = self.build(value_node, where, depth + 1)
        return mapping
