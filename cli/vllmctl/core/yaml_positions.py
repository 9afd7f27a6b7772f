"""A YAML file as plain values plus the line and column of every key and value, loaded defensively.

For hand-written files vllmctl checks key by key (the values overlay). PyYAML's C composer gives
the node tree with positions quickly; values are built here from the nodes, so nothing but plain
data can come out: no anchors or aliases (a few lines could expand to gigabytes), no merge keys,
no tags beyond the core schema, no duplicate or non-string keys, bounded size and depth.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from vllmctl.core.gc_pause import gc_paused

MAX_BYTES = 1 << 20
MAX_DEPTH = 64
_CORE = "tag:yaml.org,2002:"
_SCALARS = {"str", "int", "float", "bool", "null", "timestamp"}


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


def _at(node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def load(text: str) -> Located:
    """The document's plain value with positions; YamlProblem for anything but plain data."""
    import yaml

    if len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        raise YamlProblem(1, 1, f"file is larger than {MAX_BYTES // 1024} KiB; split it")
    try:
        with gc_paused():
            root = yaml.compose(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        what = (e.problem or e.context or "invalid YAML").strip()
        raise YamlProblem(mark.line + 1 if mark else 1, mark.column + 1 if mark else 1,
                          f"invalid YAML: {what}; fix the syntax") from None
    except yaml.YAMLError as e:
        raise YamlProblem(1, 1, f"invalid YAML: {e}") from None
    out = Located(None)
    if root is not None:
        constructor = yaml.constructor.SafeConstructor()
        out.value = _build(root, (), out, constructor, set(), 0)
    return out


def _build(node, path: tuple, out: Located, constructor, seen: set, depth: int):
    import yaml

    line, column = _at(node)
    if id(node) in seen:
        raise YamlProblem(line, column, "anchors and aliases (&, *) are not allowed; write the value out")
    seen.add(id(node))
    if depth > MAX_DEPTH:
        raise YamlProblem(line, column, f"nested deeper than {MAX_DEPTH} levels")
    out.values[path] = (line, column)
    tag = node.tag[len(_CORE):] if node.tag.startswith(_CORE) else node.tag
    if isinstance(node, yaml.ScalarNode):
        if tag not in _SCALARS:
            raise YamlProblem(line, column, f"tag {node.tag!r} is not allowed; plain values only")
        if tag == "timestamp":  # helm reads it as text
            return node.value
        return constructor.yaml_constructors[_CORE + tag](constructor, node)
    if isinstance(node, yaml.SequenceNode):
        if tag != "seq":
            raise YamlProblem(line, column, f"tag {node.tag!r} is not allowed; plain lists only")
        return [_build(item, (*path, i), out, constructor, seen, depth + 1) for i, item in enumerate(node.value)]
    if tag != "map":
        raise YamlProblem(line, column, f"tag {node.tag!r} is not allowed; plain mappings only")
    mapping: dict = {}
    for key_node, value_node in node.value:
        kline, kcolumn = _at(key_node)
        if not isinstance(key_node, yaml.ScalarNode) or key_node.tag != _CORE + "str":
            what = "merge keys (<<)" if key_node.tag == _CORE + "merge" else "keys that are not text"
            raise YamlProblem(kline, kcolumn, f"{what} are not allowed; quote the key or write it out")
        key = key_node.value
        if key in mapping:
            first = out.keys[(*path, key)][0]
            raise YamlProblem(kline, kcolumn, f"duplicate key '{key}' (first on line {first}); keep one")
        out.keys[(*path, key)] = (kline, kcolumn)
        mapping[key] = _build(value_node, (*path, key), out, constructor, seen, depth + 1)
    return mapping
