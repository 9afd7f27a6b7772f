#!/usr/bin/env python3
"""Derive the values interface of each supported vllm-stack chart version from the chart itself.

    python3 scripts/gen_chart_interface.py                  # write cli/vllmctl/core/chart_data/*.json
    python3 scripts/gen_chart_interface.py --check          # exit 1 when the committed files differ
    python3 scripts/gen_chart_interface.py --charts DIR --schemas DIR

Sources, per version: the package `vllm-stack-<v>.tgz` (its values.yaml: every key, default and
type; its templates: every key they read, `.Values.x.y`, `$.Values...`, `$modelSpec.x`, `.x`
inside `with`/`range`, `hasKey X "k"`, `index`/`get`, helpers through `include` with their
argument), and the chart repository's values.schema.json (types, enums, bounds). The package is
looked up in --charts, else VLLMCTL_TEST_CHARTS, else ../shared/charts; the schema in --schemas,
else <charts>/schemas, else <charts>/../reference/schemas.

A key is a dotted path; `[]` stands for any item of a list and `*` for any key of a map the chart
iterates over (`routerSpec.route.*.enabled`). A mapping is `open` (any key accepted below it)
when the chart passes it through whole (`toYaml`), the schema leaves it free-form, or no template
reads a key below it; its descendants are then not listed. Output is deterministic (sorted keys,
no timestamps), so regenerating from the same packages reproduces the committed files.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = ROOT / "cli" / "vllmctl" / "core" / "chart_data"
VERSIONS = ("0.1.8", "0.1.9", "0.1.10", "0.1.11", "0.1.12")
FORMAT = 1
WHOLE_FUNCS = {"toYaml", "toJson", "toPrettyJson", "toRawJson", "tpl", "fromYaml"}

Path_ = tuple  # a key path: ("servingEngineSpec", "modelSpec", "[]", "name")


# ---------------------------------------------------------------------- the package
def read_package(tgz: Path) -> tuple[str, dict[str, str]]:
    """(values.yaml text, template path -> text) of a packaged chart."""
    values, templates = None, {}
    with tarfile.open(tgz) as tar:
        for member in tar.getmembers():
            parts = member.name.split("/", 1)
            if len(parts) < 2 or not member.isfile():
                continue
            name = parts[1]
            if name == "values.yaml" or name.startswith("templates/"):
                text = tar.extractfile(member).read().decode("utf-8")
                if name == "values.yaml":
                    values = text
                elif name.endswith((".yaml", ".yml", ".tpl", ".txt")):
                    templates[name] = text
    if values is None:
        raise SystemExit(f"{tgz}: no values.yaml")
    return values, templates


# ---------------------------------------------------------------------- values.yaml and schema
def _type_of(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "object" if isinstance(value, dict) else "array"


def walk_values(node, path: Path_, out: dict, under_list: bool = False) -> None:
    """Every key of values.yaml: its type, and its default (not below a list: items there are examples)."""
    entry = out.setdefault(path, {})
    entry.setdefault("vtypes", set()).add(_type_of(node))
    if not under_list:
        entry["default"] = node
    if isinstance(node, dict):
        for key, child in node.items():
            walk_values(child, (*path, str(key)), out, under_list)
    elif isinstance(node, list):
        for item in node:
            if isinstance(item, (dict, list)):
                walk_values(item, (*path, "[]"), out, True)


def _schema_types(node: dict) -> set[str]:
    types = node.get("type")
    found = set([types] if isinstance(types, str) else types or [])
    for alt in ("oneOf", "anyOf", "allOf"):
        for sub in node.get(alt) or []:
            found |= _schema_types(sub)
    return found


def walk_schema(node, path: Path_, out: dict) -> None:
    if not isinstance(node, dict):
        return
    entry = out.setdefault(path, {})
    entry.setdefault("stypes", set()).update(_schema_types(node))
    for word, key in (("enum", "enum"), ("minimum", "min"), ("maximum", "max")):
        if word in node:
            entry[key] = node[word]
    extra = node.get("additionalProperties")
    if extra is True or (isinstance(extra, dict) and not extra.get("properties")):
        entry["schema_open"] = True
    elif isinstance(extra, dict):
        walk_schema(extra, (*path, "*"), out)
    for alt in ("oneOf", "anyOf", "allOf"):
        for sub in node.get(alt) or []:
            for key, child in (sub.get("properties") or {}).items():
                walk_schema(child, (*path, key), out)
    for key, child in (node.get("properties") or {}).items():
        walk_schema(child, (*path, key), out)
    if isinstance(node.get("items"), dict):
        walk_schema(node["items"], (*path, "[]"), out)


# ---------------------------------------------------------------------- templates
_TOKEN = re.compile(
    r"""\s+|(?P<str>"(?:[^"\\]|\\.)*"|`[^`]*`|'(?:[^'\\]|\\.)*')|(?P<op>:=|=|\||\(|\)|,)"""
    r"""|(?P<var>\$[A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*)|(?P<dot>\.(?:[A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+)*)?)"""
    r"""|(?P<word>[^\s()|,."'`$]+)"""
)


def actions(text: str) -> list[list[tuple[str, str]]]:
    """The actions `{{ ... }}` of a template as token lists; comments dropped."""
    out, i = [], 0
    while (start := text.find("{{", i)) >= 0:
        j = start + 2
        if text.startswith("-", j):
            j += 1
        body_start = j
        if text[j:].lstrip().startswith("/*"):
            end = text.find("*/", j)
            i = text.find("}}", end) + 2
            continue
        quote = None
        while j < len(text):
            ch = text[j]
            if quote:
                if ch == "\\" and quote != "`":
                    j += 1
                elif ch == quote:
                    quote = None
            elif ch in "\"'`":
                quote = ch
            elif text.startswith("}}", j):
                break
            j += 1
        body = text[body_start:j]
        if body.endswith("-") and (len(body) < 2 or body[-2].isspace()):
            body = body[:-1]
        i = j + 2
        tokens = []
        for m in _TOKEN.finditer(body):
            kind = m.lastgroup
            if kind:
                tokens.append((kind, m.group(kind)))
        if tokens:
            out.append(tokens)
    return out


class Dict(dict):
    """A `dict "k" v ...` value passed to a helper."""


class Analyzer:
    """Walks templates with Go-template scoping and records every Values path they touch."""

    def __init__(self, templates: dict[str, str], kind_of) -> None:
        self.kind_of = kind_of  # path -> "map" | "list" | None
        self.reads: set[Path_] = set()
        self.whole: set[Path_] = set()
        self.defines: dict[str, list] = {}
        self.files: list[list] = []
        self.done: set = set()
        for name in sorted(templates):
            top: list = []
            stack = [top]
            for act in actions(templates[name]):
                head = act[0][1] if act[0][0] == "word" else ""
                if head == "define":
                    body: list = []
                    self.defines[act[1][1].strip('"')] = body
                    stack.append(body)
                    stack[-1].append((["__define"], []))
                    continue
                if head in ("if", "with", "range", "block"):
                    stack[-1].append(act)
                    stack.append(stack[-1])  # same list; depth only
                    continue
                if head == "end":
                    if len(stack) > 1:
                        popped = stack.pop()
                        if popped is not stack[-1]:  # the end of a define
                            continue
                    stack[-1].append(act)
                    continue
                stack[-1].append(act)
            if not name.endswith(".tpl"):
                self.files.append(top)

    # -- values
    @staticmethod
    def _key(value) -> str:
        return repr(sorted(value.items())) if isinstance(value, Dict) else repr(value)

    def record(self, value) -> None:
        if isinstance(value, tuple) and value[:1] == ("Values",) and len(value) > 1:
            self.reads.add(value[1:])

    def mark_whole(self, value) -> None:
        if isinstance(value, tuple) and value[:1] == ("Values",) and len(value) > 1:
            self.whole.add(value[1:])

    def chain(self, text: str, frames) -> object:
        if text.startswith("$"):
            name, _, rest = text.partition(".")
            base = frames[0]["root"] if name == "$" else self.var(frames, name)
        else:
            base, rest = frames[-1]["dot"], text[1:]
        for field in [f for f in rest.split(".") if f]:
            if isinstance(base, Dict):
                base = base.get(field)
            elif isinstance(base, tuple):
                base = (*base, field)
            else:
                return None
        self.record(base)
        return base

    @staticmethod
    def var(frames, name):
        for frame in reversed(frames):
            if name in frame["vars"]:
                return frame["vars"][name]
        return None

    def operand(self, tokens, i, frames):
        kind, text = tokens[i]
        if kind == "op" and text == "(":
            depth, j = 1, i + 1
            while j < len(tokens) and depth:
                depth += {"(": 1, ")": -1}.get(tokens[j][1], 0) if tokens[j][0] == "op" else 0
                j += 1
            return self.pipeline(tokens[i + 1 : j - 1], frames), j
        if kind in ("var", "dot"):
            return self.chain(text, frames), i + 1
        if kind == "str":
            return ("str", text[1:-1]), i + 1
        return ("word", text), i + 1

    def pipeline(self, tokens, frames):
        value = None
        commands, current, depth = [], [], 0
        for tok in tokens:
            if tok[0] == "op" and tok[1] in "()":
                depth += 1 if tok[1] == "(" else -1
            if tok == ("op", "|") and depth == 0:
                commands.append(current)
                current = []
            else:
                current.append(tok)
        commands.append(current)
        for n, cmd in enumerate(commands):
            args, i = [], 0
            while i < len(cmd):
                if cmd[i][0] == "op" and cmd[i][1] in (",", ":=", "="):
                    i += 1
                    continue
                arg, i = self.operand(cmd, i, frames)
                args.append(arg)
            if n:
                args.append(value)
            value = self.call(args, frames)
        return value

    def call(self, args, frames):
        if not args:
            return None
        head = args[0]
        if not (isinstance(head, tuple) and head[:1] == ("word",)):
            return head if len(args) == 1 else None
        name, rest = head[1], args[1:]
        strings = [a[1] for a in rest if isinstance(a, tuple) and a[:1] == ("str",)]
        refs = [a for a in rest if not (isinstance(a, tuple) and a[:1] in (("str",), ("word",)))]
        if name in WHOLE_FUNCS:
            for a in refs:
                self.mark_whole(a)
            return None
        if name in ("hasKey", "get", "index", "dig") and refs:
            base = refs[-1] if name == "dig" else refs[0]
            keys = strings[:-1] if name == "dig" else strings
            if name == "index":
                keys = [a[1] if a[:1] == ("str",) else "[]" for a in rest[1:] if isinstance(a, tuple)]
            for key in keys:
                base = base.get(key) if isinstance(base, Dict) else (*base, key) if isinstance(base, tuple) else None
            self.record(base)
            return base
        if name == "dict":
            out = Dict()
            for key, value in zip(rest[::2], rest[1::2], strict=False):
                if isinstance(key, tuple) and key[:1] == ("str",):
                    out[key[1]] = value
            return out
        if name in ("include", "template") and strings:
            arg = rest[1] if len(rest) > 1 else None
            self.run_define(strings[0], arg)
            return None
        if name == "default" and rest:
            return rest[-1]
        return None

    def run_define(self, name: str, dot) -> None:
        key = (name, self._key(dot))
        if key in self.done or name not in self.defines:
            return
        self.done.add(key)
        self.run(self.defines[name], dot)

    def elem(self, value):
        if not isinstance(value, tuple):
            return None
        if value[:1] == ("Values",) and self.kind_of(value[1:]) == "map":
            return (*value, "*")
        return (*value, "[]")

    def run(self, acts: list, dot) -> None:
        frames = [{"dot": dot, "root": dot, "vars": {}, "kind": "top"}]
        for act in acts:
            if act == (["__define"], []) or not act:
                continue
            head = act[0][1] if act[0][0] == "word" else ""
            if head == "end":
                if len(frames) > 1:
                    frames.pop()
                continue
            if head == "else":
                rest = act[1:]
                if len(frames) > 1:
                    frames[-1]["dot"] = frames[-2]["dot"]
                if rest and rest[0] == ("word", "with"):
                    frames[-1]["dot"] = self.pipeline(rest[1:], frames)
                elif rest and rest[0] == ("word", "if"):
                    self.pipeline(rest[1:], frames)
                continue
            body = act[1:] if head in ("if", "with", "range", "block") else act
            names, expr = [], body
            if ("op", ":=") in body or ("op", "=") in body:
                cut = next(i for i, t in enumerate(body) if t in (("op", ":="), ("op", "=")))
                names, expr = [t[1] for t in body[:cut] if t[0] == "var"], body[cut + 1 :]
            value = self.pipeline(expr, frames)
            if head in ("if", "with", "range", "block"):
                frame = {"dot": frames[-1]["dot"], "root": frames[0]["root"], "vars": {}, "kind": head}
                if head == "with":
                    frame["dot"] = value
                    if names:
                        frame["vars"][names[-1]] = value
                elif head == "range":
                    item = self.elem(value)
                    if isinstance(item, tuple) and item[-1] == "*" and item[:1] == ("Values",):
                        self.reads.add(item[1:])
                    frame["dot"] = item
                    if names:
                        frame["vars"][names[-1]] = item
                frames.append(frame)
            elif names:
                if ("op", "=") in body:  # assignment: the variable already exists in some frame
                    for frame in reversed(frames):
                        if names[-1] in frame["vars"]:
                            frame["vars"][names[-1]] = value
                            break
                else:
                    frames[-1]["vars"][names[-1]] = value
            toks = [t for t in body if t[0] == "word"]
            if toks and toks[0][1] in WHOLE_FUNCS and len(body) == 2 and body[1] == ("dot", "."):
                self.mark_whole(frames[-1]["dot"])

    def analyze(self) -> None:
        for acts in self.files:
            self.run(acts, ())


# ---------------------------------------------------------------------- combining
def _prefixes(path: Path_):
    return [path[:i] for i in range(1, len(path))]


def key_text(path: Path_) -> str:
    return ".".join(path).replace(".[]", "[]")


def interface(values_text: str, templates: dict[str, str], schema: dict | None, version: str) -> dict:
    import yaml

    values = yaml.safe_load(values_text) or {}
    keys: dict[Path_, dict] = {}
    walk_values(values, (), keys)
    if schema:
        walk_schema(schema, (), keys)

    def kind_of(path: Path_):
        entry = keys.get(path) or {}
        types = entry.get("vtypes", set()) | entry.get("stypes", set())
        if entry.get("schema_open") or (*path, "*") in keys:
            return "map"
        if "array" in types:
            return "list"
        return "map" if "object" in types else None

    analyzer = Analyzer(templates, kind_of)
    analyzer.analyze()
    for path in analyzer.reads:
        for prefix in _prefixes(path):
            keys.setdefault(prefix, {})
        keys.setdefault(path, {})["read"] = True
    for path in analyzer.whole:
        keys.setdefault(path, {})["whole"] = True
    keys.pop((), None)

    # A mapping stays closed only where some template reads a key below it.
    read_below = {p for path in analyzer.reads for p in _prefixes(path)}
    has_child = {p for path in keys for p in _prefixes(path)}
    out: dict[str, dict] = {}
    open_paths: set[Path_] = set()
    for path in sorted(keys):
        if any(p in open_paths for p in _prefixes(path)):
            continue
        entry = keys[path]
        types = set(entry.get("stypes") or (entry.get("vtypes", set()) - {"null"}))
        if "number" in types:
            types.discard("integer")  # JSON Schema: an integer is a number
        if path[-1] != "*" and (*path[:-1], "*") in keys:
            open_paths.add(path)  # an instance (`route.main`) of a map the chart iterates over: `*` says it
            continue
        if not types and path in has_child:
            types.add("array" if (*path, "[]") in keys else "object")
        item = {"type": sorted(types) or ["any"]}
        for word in ("default", "enum", "min", "max"):
            if word in entry:
                item[word] = entry[word]
        free_map = "object" in types and (entry.get("schema_open") or path not in read_below)
        if entry.get("whole") or free_map:
            item["open"] = True
            open_paths.add(path)
        elif "object" in types and path in has_child:
            item.pop("default", None)  # a closed mapping: its keys carry the defaults
        item["from"] = "".join(s for s, flag in (
            ("v", "vtypes" in entry), ("t", "read" in entry or "whole" in entry), ("s", "stypes" in entry)) if flag)
        out[key_text(path)] = item
    return {"format": FORMAT, "chart": "vllm-stack", "version": version, "keys": out}


def version_data(tgz: Path, schema: dict | None, version: str) -> dict:
    values_text, templates = read_package(tgz)
    return interface(values_text, templates, schema, version)


def dumps(data: dict) -> str:
    """One key per line: small, and a chart change shows as a readable diff."""
    head = {k: v for k, v in data.items() if k != "keys"}
    lines = [json.dumps(k) + ":" + json.dumps(v, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
             for k, v in sorted(data["keys"].items())]
    body = json.dumps(head, sort_keys=True, separators=(",", ":"))[:-1]
    return body + ',"keys":{\n' + ",\n".join(lines) + "\n}}\n"


def _dirs(args) -> tuple[Path, Path]:
    charts = Path(args.charts or os.environ.get("VLLMCTL_TEST_CHARTS") or ROOT.parent / "shared" / "charts")
    if args.schemas:
        return charts, Path(args.schemas)
    for candidate in (charts / "schemas", charts.parent / "reference" / "schemas"):
        if candidate.is_dir():
            return charts, candidate
    return charts, charts / "schemas"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--charts", help="directory of vllm-stack-<version>.tgz")
    parser.add_argument("--schemas", help="directory of vllm-stack-<version>.values.schema.json")
    parser.add_argument("--out", default=str(DATA_DIR), help="where the JSON files go")
    parser.add_argument("--check", action="store_true", help="compare with the files in --out; write nothing")
    args = parser.parse_args(argv)
    charts, schemas = _dirs(args)
    out, stale = Path(args.out), []
    for version in VERSIONS:
        tgz = charts / f"vllm-stack-{version}.tgz"
        if not tgz.is_file():
            raise SystemExit(f"{tgz} not found: pass --charts or set VLLMCTL_TEST_CHARTS")
        schema_file = schemas / f"vllm-stack-{version}.values.schema.json"
        schema = json.loads(schema_file.read_text(encoding="utf-8")) if schema_file.is_file() else None
        text = dumps(version_data(tgz, schema, version))
        target = out / f"vllm-stack-{version}.json"
        if args.check:
            if not target.is_file() or target.read_text(encoding="utf-8") != text:
                stale.append(str(target))
            continue
        out.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        print(f"{target}: {len(json.loads(text)['keys'])} keys")
    if stale:
        print("out of date (run scripts/gen_chart_interface.py): " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
