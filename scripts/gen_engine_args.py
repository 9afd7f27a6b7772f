#!/usr/bin/env python3
"""Produce vllmctl's engine-argument data from an installed vllm (the `engine` extra).

    VLLM_TARGET_DEVICE=cpu python scripts/gen_engine_args.py            # data file
    VLLM_TARGET_DEVICE=cpu python scripts/gen_engine_args.py verdicts   # golden verdicts

`data` walks the real `vllm serve` parser and writes
cli/vllmctl/core/engine_data/vllm-<version>.json; `fields` asks pydantic which probe values each recorded config
field type refuses; `verdicts` runs the real parser (and
`validate_parsed_serve_args`) on every case of tests/unit/data/engine_cases.json and writes
tests/unit/data/engine_verdicts-<version>.json. Needs only vllm and the standard library, so it
runs in a separate engine virtualenv without vllmctl installed. Output is deterministic.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import io
import json
import os
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = ROOT / "cli" / "vllmctl" / "core" / "engine_data"
CASES = ROOT / "tests" / "unit" / "data" / "engine_cases.json"
FORMAT = 1

# Checks vLLM makes after parsing (validate_parsed_serve_args, engine config construction) that
# the parser's data cannot express. Kept tiny and by hand; each names the vLLM check it mirrors.
RULES = [
    # validate_parsed_serve_args
    {"kind": "requires", "dest": "enable_auto_tool_choice", "needs": "tool_call_parser"},
    {"kind": "requires", "dest": "enable_log_outputs", "needs": "enable_log_requests"},
    {"kind": "excludes", "dest": "enable_per_request_metrics", "other": "disable_log_stats"},
    {"kind": "excludes", "dest": "grpc", "other": "grpc_port"},
    {"kind": "range", "dest": "sse_keep_alive_interval", "min": 0, "stage": "parser"},
    # validate_multi_port_external_lb_args (entrypoints/launchers/dp_supervisor.py), which
    # validate_parsed_serve_args calls for --data-parallel-multi-port-external-lb
    *({"kind": "excludes", "dest": "data_parallel_multi_port_external_lb", "other": other}
      for other in ("grpc", "uds", "data_parallel_rank", "data_parallel_external_lb", "data_parallel_hybrid_lb",
                    "grpc_port")),  # grpc_port: validate_grpc_port_arg
    {"kind": "excludes", "dest": "data_parallel_multi_port_external_lb", "other": "api_server_count", "allow": [1]},
    {"kind": "requires", "dest": "data_parallel_multi_port_external_lb", "needs": "data_parallel_size", "min": 2},
    {"kind": "requires", "dest": "data_parallel_multi_port_external_lb", "needs": "data_parallel_size_local", "min": 2},
    {"kind": "divides", "dest": "data_parallel_multi_port_external_lb", "divisor": "data_parallel_size_local",
     "of": "data_parallel_size"},
    *({"kind": "requires", "dest": a, "needs": b, "when": "data_parallel_multi_port_external_lb"}
      for a, b in (("ssl_keyfile", "ssl_certfile"), ("ssl_certfile", "ssl_keyfile"))),
    # CacheConfig / ParallelConfig / SchedulerConfig validation at engine start
    {"kind": "range", "dest": "gpu_memory_utilization", "min": 0, "min_exclusive": True, "max": 1},
    {"kind": "range", "dest": "tensor_parallel_size", "min": 1},
    {"kind": "range", "dest": "pipeline_parallel_size", "min": 1},
    {"kind": "range", "dest": "data_parallel_size", "min": 1},
    {"kind": "range", "dest": "max_num_seqs", "min": 1},
    {"kind": "range", "dest": "max_loras", "min": 1},
    {"kind": "range", "dest": "max_model_len", "min": 1, "allow": [-1]},
    {"kind": "range", "dest": "port", "min": 0, "max": 65535},
]


def _env() -> None:
    os.environ.setdefault("VLLM_TARGET_DEVICE", "cpu")
    os.environ.setdefault("VLLM_LOGGING_LEVEL", "ERROR")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")


class ParserError(Exception):
    pass


def _raise(message: str):
    raise ParserError(message)


def build_parser():
    """The `vllm serve` parser exactly as `vllm` builds it, raising instead of exiting."""
    _env()
    from vllm.entrypoints.cli.serve import ServeSubcommand
    from vllm.utils.argparse_utils import FlexibleArgumentParser

    top = FlexibleArgumentParser(description="vLLM CLI")
    subparsers = top.add_subparsers(required=False, dest="subparser")
    serve = ServeSubcommand().subparser_init(subparsers)
    top.error = _raise  # type: ignore[method-assign]
    serve.error = _raise  # type: ignore[method-assign]
    return top, serve


def _closure(fn) -> dict:
    names = getattr(getattr(fn, "__code__", None), "co_freevars", ())
    cells = getattr(fn, "__closure__", None) or ()
    return {n: c.cell_contents for n, c in zip(names, cells, strict=False)}


# Fields whose `before` validator reads an enum member's name (any case) as well as its value.
ENUM_NAME_FIELDS = {("CompilationConfig", "mode"), ("CompilationConfig", "cudagraph_mode")}


def describe_dataclass(cls, depth: int = 0) -> dict:
    import typing

    out: dict = {"name": "dataclass", "class": cls.__name__}
    cfg = getattr(cls, "__pydantic_config__", None) or {}
    out["extra"] = cfg.get("extra") or ("forbid" if hasattr(cls, "__pydantic_fields__") else "ignore")
    hints = typing.get_type_hints(cls)
    keys: dict = {}
    types: dict = {}
    for f in dataclasses.fields(cls):
        nested = None
        if depth < 2:
            members = {hints[f.name]} if isinstance(hints[f.name], type) else set(typing.get_args(hints[f.name]))
            for h in members:
                if isinstance(h, type) and dataclasses.is_dataclass(h):
                    nested = describe_dataclass(h, depth + 1)
                    break
        keys[f.name] = nested
        checked = _checked_field_type(cls, f.name, hints[f.name])
        if checked is not None:
            types[f.name] = checked
    out["keys"] = keys
    out["types"] = types
    return out


def _field_validator_modes(cls, name: str) -> set[str]:
    decorators = getattr(cls, "__pydantic_decorators__", None)
    if decorators is None:
        return set()
    return {v.info.mode for v in decorators.field_validators.values() if name in v.info.fields or "*" in v.info.fields}


def _checked_field_type(cls, name: str, hint) -> dict | None:
    """The JSON types pydantic accepts for one field, or None where vllmctl leaves it to vLLM (a
    validator that rewrites the input, a type the checker does not model)."""
    if not next(f for f in dataclasses.fields(cls) if f.name == name).init:
        return {"t": "internal"}  # set by vLLM itself: pydantic refuses it as an unexpected argument
    modes = _field_validator_modes(cls, name)
    decorators = getattr(cls, "__pydantic_decorators__", None)
    if decorators is not None and any(v.info.mode != "after" for v in decorators.model_validators.values()):
        return None
    if (cls.__name__, name) in ENUM_NAME_FIELDS:
        desc = {"t": "enum", "values": [m.value for m in hint if isinstance(m.value, int)],
                "names": sorted(hint.__members__)}
    elif modes - {"after", "wrap"}:
        return None
    else:
        desc = json_type(hint)
    if desc is not None and "wrap" in modes:  # vLLM's only wrap validator, _skip_none_validation, lets None through
        desc = {"t": "union", "of": [desc, {"t": "null"}]}
    bounds = _bounds(cls, name)
    return {**desc, "bounds": bounds} if desc is not None and bounds else desc


_BOUNDS = {"Ge": "ge", "Gt": "gt", "Le": "le", "Lt": "lt", "MinLen": "min_length", "MaxLen": "max_length"}


def _bounds(cls, name: str) -> dict:
    """The annotated_types constraints pydantic checks on a field (Field(ge=1), Annotated[int, Gt(0)])."""
    info = (getattr(cls, "__pydantic_fields__", None) or {}).get(name)
    out = {}
    for m in getattr(info, "metadata", ()):
        key = _BOUNDS.get(type(m).__name__)
        if key is not None:
            out[key] = getattr(m, key)
    return out


def json_type(hint) -> dict | None:
    """A small description of a type hint for the stdlib checker (engine_args._type_ok), or None."""
    import types
    import typing

    simple = {bool: "bool", int: "int", float: "float", str: "str", type(None): "null"}
    if hint in simple:
        return {"t": simple[hint]}
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Literal and all(isinstance(a, str | int) and not isinstance(a, bool) for a in args):
        return {"t": "literal", "values": list(args)}
    if origin in (list, set) and len(args) == 1:
        return {"t": "list", "item": json_type(args[0])}
    if origin in (typing.Union, types.UnionType):
        members = [json_type(a) for a in args]
        return None if None in members else {"t": "union", "of": members}
    return None


def describe_type(fn) -> dict:
    import json as _json

    from vllm.utils import argparse_utils as au

    if fn is None or fn is str:
        return {"name": "str"}
    if fn is int:
        return {"name": "int"}
    if fn is float:
        return {"name": "float"}
    if fn is _json.loads:
        return {"name": "json"}
    if fn is au.human_readable_int:
        return {"name": "human_int"}
    if fn is au.human_readable_int_or_auto:
        return {"name": "human_int_or_auto"}
    qual = getattr(fn, "__qualname__", type(fn).__name__)
    if qual.endswith("optional_type.<locals>._optional_type"):
        return {**describe_type(_closure(fn)["return_type"]), "optional": True}
    if qual.endswith("parse_type.<locals>._parse_type"):
        return describe_type(_closure(fn)["return_type"])
    if qual == "union_dict_and_str":
        return {"name": "json_or_str"}
    if qual.endswith("parse_dataclass"):
        return describe_dataclass(fn.__defaults__[0])
    if "<lambda>" in qual:
        try:
            if fn("Ab-Cd") == "ab_cd":
                return {"name": "lower_snake"}
        except Exception:
            pass
    return {"name": "any", "callable": qual}


def _jsonable(value):
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple | set | frozenset):
        items = [_jsonable(v) for v in value]
        return sorted(items, key=repr) if isinstance(value, set | frozenset) else items
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    return repr(value)


def _action_kind(action) -> str:
    name = type(action).__name__
    return {
        "_StoreAction": "store",
        "_StoreTrueAction": "store_true",
        "_StoreFalseAction": "store_false",
        "_StoreConstAction": "store_const",
        "_AppendAction": "append",
        "_HelpAction": "help",
        "_VersionAction": "version",
        "BooleanOptionalAction": "boolean_optional",
        "LoRAParserAction": "lora_modules",
    }.get(name, "store" if action.nargs != 0 else "flag")


def describe_action(action, deprecated: set) -> dict:
    out = {
        "dest": action.dest,
        "option_strings": list(action.option_strings),
        "action": _action_kind(action),
        "nargs": action.nargs,
        "type": describe_type(action.type) if action.nargs != 0 else None,
        "choices": _jsonable(list(action.choices)) if action.choices is not None else None,
        "default": _jsonable(action.default) if action.default is not argparse.SUPPRESS else None,
        "const": _jsonable(action.const),
        "deprecated": action in deprecated or bool(getattr(action, "deprecated", False)),
    }
    if out["action"] == "lora_modules":
        from vllm.entrypoints.openai.models.protocol import LoRAModulePath

        fields = dataclasses.fields(LoRAModulePath)
        out["lora_keys"] = sorted(f.name for f in fields)
        out["lora_required"] = sorted(
            f.name for f in fields
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        )
    return out


def registry_rules() -> list[dict]:
    """Names the API server accepts at start (validate_api_server_args), from vLLM's registries."""
    from vllm.reasoning import ReasoningParserManager
    from vllm.tool_parsers import ToolParserManager

    return [
        {"kind": "known_value", "dest": "tool_call_parser", "when": "enable_auto_tool_choice",
         "unless": "tool_parser_plugin", "values": sorted(ToolParserManager.list_registered())},
        {"kind": "known_value", "dest": "reasoning_parser", "unless": "reasoning_parser_plugin",
         "values": sorted(ReasoningParserManager.list_registered())},
    ]


def generate() -> dict:
    import vllm

    _, serve = build_parser()
    deprecated = getattr(serve, "_deprecated", set())
    options, positionals = [], []
    for action in serve._actions:
        if action.option_strings:
            options.append(describe_action(action, deprecated))
        else:
            positionals.append({"dest": action.dest, "nargs": action.nargs})
    options.sort(key=lambda a: a["option_strings"][0])
    return {
        "format": FORMAT,
        "vllm_version": vllm.__version__,
        "generated_by": "scripts/gen_engine_args.py",
        "parser": {"allow_abbrev": serve.allow_abbrev, "prefix_chars": serve.prefix_chars},
        "positionals": positionals,
        "options": options,
        "rules": RULES + registry_rules(),
    }


def verdict(argv: list[str]) -> dict:
    from vllm.entrypoints.launchers.cli_args import validate_parsed_serve_args

    top, _ = build_parser_cached()
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            ns = top.parse_args(["serve", *argv])
        validate_parsed_serve_args(ns)
    except (ParserError, ValueError, TypeError, AssertionError, OSError, IndexError) as e:
        text = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        # Object addresses would make the golden file differ on every run.
        return {"ok": False, "error": re.sub(r" at 0x[0-9a-f]+", "", text)}
    except SystemExit as e:  # --help / --version
        return {"ok": False, "error": f"exit {e.code}"}
    return {"ok": True, "error": None}


# JSON values tried on every field whose type the data records (test_parser_parity.py)
FIELD_PROBES = [True, False, 0, 1, 2, 3, -1, 0.0, 1.0, 3.0, 3.5, 1e2, "3", " 3 ", "3.0", "+3", "1_000", "1e2", "inf",
                "yes", "On", "abc", "NONE", "vllm_compile", "inductor", "json", "", None, [1, 2], ["a"], [], {}]


def _dataclass_of(fn):
    while not getattr(fn, "__qualname__", "").endswith("parse_dataclass"):
        fn = _closure(fn)["return_type"]  # optional_type / parse_type wrappers, as describe_type reads them
    return fn.__defaults__[0]


def _field_error(adapter, key: str, value, validation_error) -> str | None:
    """The pydantic error type when `{key: value}` is refused at that key, "raised" when a validator of
    the config raises outside pydantic (vLLM would not start either), else None."""
    try:
        adapter.validate_json(json.dumps({key: value}))
    except validation_error as e:
        return next((err["type"] for err in e.errors() if err["loc"][:1] == (key,)), None)
    except Exception:
        return "raised"
    return None


def field_verdicts() -> dict:
    """For each recorded field type and probe value: does pydantic refuse `{field: value}` at that field?"""
    import vllm
    from pydantic import TypeAdapter, ValidationError

    _, serve = build_parser()
    out = []
    for action in serve._actions:
        desc = describe_type(action.type) if action.nargs != 0 else {}
        if desc.get("name") != "dataclass":
            continue
        adapter = TypeAdapter(_dataclass_of(action.type))
        for key in desc["types"]:
            for value in FIELD_PROBES:
                out.append({"option": action.option_strings[0], "key": key, "value": value,
                            "refused": _field_error(adapter, key, value, ValidationError)})
    return {"vllm_version": vllm.__version__, "fields": out}


_PARSERS: list = []


def build_parser_cached():
    if not _PARSERS:
        _PARSERS.append(build_parser())
    return _PARSERS[0]


def verdicts(cases_path: Path) -> dict:
    import vllm

    cases = json.loads(cases_path.read_text())["cases"]
    out = []
    for case in cases:
        if case.get("parity") is False:
            continue
        out.append({"id": case["id"], "argv": case["argv"], **verdict(case["argv"])})
    return {"vllm_version": vllm.__version__, "verdicts": out}


def _dump(obj, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=1, sort_keys=True) + "\n")
    shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
    print(f"wrote {shown} ({path.stat().st_size} bytes)")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("mode", nargs="?", choices=["data", "verdicts", "fields"], default="data")
    ap.add_argument("--cases", type=Path, default=CASES)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    _env()
    import vllm

    version = vllm.__version__
    if args.mode == "data":
        _dump(generate(), args.out or DATA_DIR / f"vllm-{version}.json")
    elif args.mode == "fields":
        _dump(field_verdicts(), args.out or Path(f"field_verdicts-{version}.json"))
    else:
        _dump(verdicts(args.cases), args.out or CASES.parent / f"engine_verdicts-{version}.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
