"""Which JSON values vLLM accepts for one field of a config flag (--compilation-config, ...).

vLLM validates such a config with pydantic in its lax JSON mode (parse_dataclass in
vllm/engine/arg_utils.py: TypeAdapter(cls).validate_json), whether it came as one JSON argument
or as dotted keys (`--compilation-config.mode 3`, folded into JSON first). This module re-applies
those rules to the field types scripts/gen_engine_args.py records (`types` of a dataclass option);
tests/engine/test_parser_parity.py checks them against pydantic on a battery of values.
Standard library only.
"""

from __future__ import annotations

import json
import re
from typing import Any

# pydantic's lax JSON mode, which vLLM's parse_dataclass validates a config with (TypeAdapter.validate_json)
_BOOL_WORDS = {"0", "off", "f", "false", "n", "no", "1", "on", "t", "true", "y", "yes"}
_INT_STRING = re.compile(r"\s*[+-]?[0-9][0-9_]*(?:\.0*)?\s*")


def _lax_int(value: Any) -> int | None:
    if isinstance(value, int):  # bool included: pydantic takes true/false as 1/0
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and _INT_STRING.fullmatch(value):
        return int(float(value.replace("_", "")))
    return None


def _lax_float(value: Any) -> bool:
    if isinstance(value, str):
        try:
            float(value)
        except ValueError:
            return False
        return True
    return isinstance(value, int | float)


def _type_ok(t: dict, value: Any) -> bool:
    """Whether pydantic accepts a JSON value for a field of the recorded type (gen_engine_args.json_type)."""
    kind = t["t"]
    if kind == "union":
        return any(_type_ok(m, value) for m in t["of"])
    if kind == "list":
        return isinstance(value, list) and (t["item"] is None or all(_type_ok(t["item"], v) for v in value))
    if kind == "literal":
        return any(type(v) is type(value) or isinstance(v, int) and type(value) is float
                   for v in t["values"] if v == value)
    if kind == "enum":  # a member's name (any case) or value
        return value.upper() in t["names"] if isinstance(value, str) else _lax_int(value) in t["values"]
    if kind == "bool":
        return isinstance(value, bool) or value in (0, 1) or isinstance(value, str) and value.lower() in _BOOL_WORDS
    checks = {"int": lambda v: _lax_int(v) is not None, "float": _lax_float, "str": lambda v: isinstance(v, str),
              "null": lambda v: v is None}
    return checks[kind](value)


def _type_word(t: dict) -> str:
    kind = t["t"]
    if kind == "union":
        return " or ".join(dict.fromkeys(_type_word(m) for m in t["of"]))
    if kind == "list":
        plural = {"int": "integers", "float": "numbers", "str": "strings", "bool": "booleans"}
        return "a list" + (f" of {plural[t['item']['t']]}" if t["item"] and t["item"]["t"] in plural else "")
    if kind in ("literal", "enum"):
        return "one of " + ", ".join(json.dumps(v) for v in [*t["values"], *t.get("names", ())])
    return {"int": "an integer", "float": "a number", "str": "a string", "bool": "true or false",
            "null": "null"}[kind]


_BOUND_WORDS = {"ge": "at least", "gt": "greater than", "le": "at most", "lt": "less than",
                "min_length": "with at least", "max_length": "with at most"}


def _within(name: str, limit: float, value: Any) -> bool:
    try:
        size = len(value) if name.endswith("_length") else float(value)
    except (TypeError, ValueError):  # a union member without the bound (int | str): vLLM decides
        return True
    return {"ge": size >= limit, "gt": size > limit, "le": size <= limit, "lt": size < limit,
            "min_length": size >= limit, "max_length": size <= limit}[name]


def field_problem(t: dict, value: Any) -> tuple[str, str] | None:
    """What is wrong with a value for a field of recorded type `t` ("expects a string, got 3", and a
    problem code), or None where pydantic accepts it."""
    if t["t"] == "internal":
        return "is set by vLLM itself and cannot be given; remove it", "bad-json"
    if not _type_ok(t, value):
        return f"expects {_type_word(t)}, got {json.dumps(value)}", "bad-json"
    for name, limit in (t.get("bounds") or {}).items():
        if value is not None and not _within(name, limit, value):
            items = " items" if name.endswith("_length") else ""
            return f"must be {_BOUND_WORDS[name]} {limit}{items}, got {json.dumps(value)}", "out-of-range"
    return None
