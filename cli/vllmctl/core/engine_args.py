"""Check a `vllm serve` command line against the parser data of one vLLM release.

The data (engine_data/vllm-<version>.json) is produced from the real parser by
scripts/gen_engine_args.py; this module re-applies what vLLM's FlexibleArgumentParser and
argparse do with it (underscore normalisation, `-O3`, dotted JSON keys, unique-prefix
abbreviations, `--flag=value`) without importing vllm, checks the keys and field values of JSON
config flags as vLLM's pydantic validation does (core/engine_config_fields.py), and adds the checks
vLLM only makes later (companion flags, value ranges) plus clashes with the flags the chart derives
from models.yaml.
Standard library only: it runs on every `validate`, `render` and `install`.

Why the matching below is not a stdlib `argparse.ArgumentParser` built from the data: that was tried
(issue 16) and kept the golden verdicts only with workarounds that cost more than it saves.
- argparse stops at its first error (an ambiguous abbreviation already while it classifies the argv),
  while a check reports every problem of a model at once and still reads the other flags (secret
  flags, parallelism) of an argv with a bad one. That took an optional value ('?', '*') on every
  flag, a re-parse per ambiguous abbreviation, and str subclasses to learn which models.yaml item
  each value came from (argparse hands back strings, not positions): behaviour it does not document.
- Optional values on switches then changed two verdicts of the real parser (golden cases
  model-after-a-switch and switch-with-explicit-double-dash: argparse drops a `--` value).
- It was no smaller (738 lines against 737) and slower: parse_known_args walks all ~320 actions
  twice per call, so checking 100 models took 1.8-2x as long (benchmarks/bench_engine_args.py,
  interleaved runs), and building the parser adds ~25 ms to every cold start.
- Its verdicts would follow the argparse of the Python running vllmctl (3.13 raises ambiguity as
  an ArgumentError and changed explicit values of single-dash flags), not that of the pinned vLLM.
"""

from __future__ import annotations

import difflib
import functools
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vllmctl.core.engine_argv import (
    CHART,
    RENDERING,
    USER,
    VALUES,
    ArgToken,
    Source,
    describe_source,
    models_yaml_path,
)
from vllmctl.core.engine_config_fields import field_problem

DATA_DIR = Path(__file__).with_name("engine_data")

ERROR = "error"
WARNING = "warning"

@dataclass(frozen=True, slots=True)
class EngineArgProblem:
    model: str
    flag: str
    message: str
    source: Source
    severity: str = ERROR
    code: str = ""
    origin: str = USER
    user_index: int | None = None
    stage: str = "parser"  # "parser": `vllm serve` refuses to start; "engine": fails at engine start;
    # "chart": vllmctl's own rule about what the chart passes
    yaml_path: Source = ()  # inside the model's models.yaml entry, e.g. ("vllmConfig", "extraArgs", 0)

    @property
    def where(self) -> str:
        return describe_source(self.source)

    @property
    def yaml_where(self) -> str:
        """e.g. "vllmConfig.extraArgs[0]" within the model's entry; "" for the chart's own flags."""
        return describe_source(self.yaml_path) if self.yaml_path else ""

    def __str__(self) -> str:
        return f"model {self.model!r}, {self.where}: {self.message}"

    def as_dict(self) -> dict[str, Any]:
        return {"model": self.model, "flag": self.flag, "message": self.message, "severity": self.severity,
                "code": self.code, "stage": self.stage, "source": list(self.source),
                "yaml_path": list(self.yaml_path), "origin": self.origin}


@dataclass(frozen=True, slots=True)
class EngineSpec:
    version: str
    options: tuple[dict, ...]
    by_string: dict[str, dict]
    by_dest: dict[str, dict]
    rules: tuple[dict, ...]
    allow_abbrev: bool = True
    long_strings: tuple[str, ...] = field(default=())


# ---------------------------------------------------------------------------- data loading


def available_versions() -> list[str]:
    names = (p.name for p in DATA_DIR.glob("vllm-*.json"))
    return sorted((n[len("vllm-") : -len(".json")] for n in names), key=_vkey)


def _vkey(version: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", version)[:3])


@functools.lru_cache(maxsize=8)
def load_spec(version: str) -> EngineSpec:
    data = json.loads((DATA_DIR / f"vllm-{version}.json").read_text(encoding="utf-8"))
    by_string: dict[str, dict] = {}
    by_dest: dict[str, dict] = {}
    for opt in data["options"]:
        for s in opt["option_strings"]:
            by_string[s] = opt
        by_dest[opt["dest"]] = opt
    return EngineSpec(
        version=data["vllm_version"],
        options=tuple(data["options"]),
        by_string=by_string,
        by_dest=by_dest,
        rules=tuple(data.get("rules", ())),
        allow_abbrev=data["parser"]["allow_abbrev"],
        long_strings=tuple(sorted(s for s in by_string if s.startswith("--"))),
    )


_TAG_VERSION = re.compile(r"(\d+)\.(\d+)\.(\d+)")


def spec_for_tag(image_tag: str | None) -> tuple[EngineSpec, str | None]:
    """The parser data for an image tag such as `v0.32.0`, and a warning when it is not exact."""
    versions = available_versions()
    if not versions:
        raise FileNotFoundError(f"no vLLM argument data under {DATA_DIR}")
    tag = (image_tag or "").strip()
    m = _TAG_VERSION.search(tag)
    if not m:
        newest = versions[-1]
        return load_spec(newest), (
            f"image tag {tag or '(none)'!r} does not name a vLLM release; engine flags were checked "
            f"against vLLM {newest}, the newest release with argument data: pin the tag (e.g. v{newest})."
        )
    wanted = tuple(int(x) for x in m.groups())
    exact = ".".join(m.groups())
    if exact in versions:
        return load_spec(exact), None
    older = [v for v in versions if _vkey(v) <= wanted]
    nearest = older[-1] if older else versions[0]
    return load_spec(nearest), (
        f"no argument data for vLLM {exact} (image tag {tag!r}); engine flags were checked against "
        f"vLLM {nearest}, the nearest release with data, so newer or removed flags may be misjudged."
    )


# ---------------------------------------------------------------------------- value checks

_HUMAN = re.compile(r"(\d+(?:\.\d+)?)([kKmMgGtT])")
_JSON_OBJ = re.compile(r"(?s)^\s*{.*}\s*$")
_JSON_HUMAN = re.compile(r"\b\d+(?:\.\d+)?[kKmMgGtT]\b")
_JSON_STRINGS = re.compile(r'("(?:[^"\\]|\\.)*")')


class _BadValue(Exception):
    def __init__(self, message: str, code: str = "bad-type", key: str = ""):
        super().__init__(message)
        self.code = code
        self.key = key  # the JSON config key ("pass_config.fuse_norm_quant") the value is wrong at, if any


def _human_int(value: str) -> int:
    value = value.strip()
    m = _HUMAN.fullmatch(value)
    if m:
        number, suffix = m.groups()
        if suffix in "kmgt":
            return int(float(number) * 10 ** (3 * ("kmgt".index(suffix) + 1)))
        if "." in number:
            raise _BadValue(f"decimals are not allowed with the binary suffix {suffix}; did you mean "
                            f"{number}{suffix.lower()}?")
        return int(number) * 2 ** (10 * ("KMGT".index(suffix) + 1))
    return int(value)


def _expand_json_numbers(val: str) -> str:
    parts = _JSON_STRINGS.split(val)
    for i in range(0, len(parts), 2):
        parts[i] = _JSON_HUMAN.sub(lambda m: str(_human_int(m.group())), parts[i])
    return "".join(parts)


def _json(flag: str, val: str) -> Any:
    try:
        return json.loads(val)
    except json.JSONDecodeError as e:
        raise _BadValue(f"{flag} is not valid JSON ({e.msg} at character {e.pos}): {val!r}.", "bad-json") from None
    except RecursionError:  # vLLM's json.loads fails the same way, so `vllm serve` would not start
        raise _BadValue(f"{flag} nests its JSON too deeply to be read; flatten it.", "bad-json") from None


def _check_keys(flag: str, obj: Any, desc: dict, path: str = "") -> None:
    if not isinstance(obj, dict):
        where = f"{path} in " if path else ""
        raise _BadValue(f"{where}{flag} must be a JSON object for {desc['class']}, got {obj!r}.", "bad-json")
    keys = desc.get("keys") or {}
    for key, value in obj.items():
        if key not in keys:
            if desc.get("extra") != "forbid":
                continue
            hint = difflib.get_close_matches(key, list(keys), n=1, cutoff=0.6)
            dym = f" (did you mean {hint[0]!r}?)" if hint else ""
            if len(keys) <= 15:
                valid = f"valid keys: {', '.join(sorted(keys))}"
            else:
                valid = f"see `vllm serve --help={desc['class']}` for its {len(keys)} keys"
            raise _BadValue(f"{flag} has unknown key {path}{key!r}{dym}; {valid}.", "bad-json")
        nested = keys[key]
        if nested and isinstance(value, dict):
            _check_keys(flag, value, nested, f"{path}{key}.")
        elif key in desc.get("types", {}):
            try:
                _check_field(flag, f"{path}{key!r}", desc["types"][key], value)
            except _BadValue as e:
                e.key = f"{path}{key}"
                raise


def _check_field(flag: str, key: str, t: dict, value: Any) -> None:
    problem = field_problem(t, value)
    if problem is not None:
        raise _BadValue(f"{flag} key {key} {problem[0]}.", problem[1])


_TYPE_WORDS = {
    "int": "an integer", "float": "a number", "human_int": "an integer (suffixes k, m, g, K, M, G allowed)",
    "human_int_or_auto": "an integer, 'auto' or -1 (suffixes k, m, K, M allowed)",
}


def convert(opt: dict, flag: str, raw: str) -> Any:
    """The value argparse stores for one argument string, or _BadValue as the parser would fail."""
    t = opt.get("type") or {"name": "str"}
    name = t["name"]
    if t.get("optional") and raw in ("", "None"):
        return None
    try:
        if name == "str" or name == "any":
            return raw
        if name == "int":
            return int(raw)
        if name == "float":
            return float(raw)
        if name == "human_int":
            return _human_int(raw)
        if name == "human_int_or_auto":
            s = raw.strip()
            return -1 if s == "-1" or s.lower() == "auto" else _human_int(s)
        if name == "lower_snake":
            return raw.lower().replace("-", "_")
        if name == "json":
            return _json(flag, raw)
        if name == "json_or_str":
            if not _JSON_OBJ.match(raw) or raw in ("", "None"):
                return raw
            return _json(flag, raw)
        if name == "dataclass":
            obj = _json(flag, _expand_json_numbers(raw))
            _check_keys(flag, obj, t)
            return obj
    except ValueError:
        word = _TYPE_WORDS.get(name, name)
        raise _BadValue(f"{flag} expects {word}, got {raw!r}.") from None
    return raw


def _check_choice(opt: dict, flag: str, value: Any, raw: str) -> None:
    choices = opt.get("choices")
    if choices is None or value in choices:
        return
    shown = [c for c in choices if c is not None]
    hint = difflib.get_close_matches(str(value), [str(c) for c in shown], n=1, cutoff=0.5)
    dym = f" (did you mean {hint[0]}?)" if hint else ""
    raise _BadValue(f"{flag} {raw!r} is not a valid choice{dym}; choose from {', '.join(map(str, shown))}.",
                    "bad-choice")


# ---------------------------------------------------------------------------- preprocessing


@dataclass(slots=True)
class _Tok:
    text: str
    origin: ArgToken


_FIRST_SEGMENT = re.compile(r"(?<=--)[^.]*")
_NEG_NUMBER = re.compile(r"^-\d+$|^-\d*\.\d+$")


def _normalise(arg: str) -> str:
    if "=" in arg:
        key, value = arg.split("=", 1)
        return _FIRST_SEGMENT.sub(lambda m: m.group(0).replace("_", "-"), key, count=1) + "=" + value
    return _FIRST_SEGMENT.sub(lambda m: m.group(0).replace("_", "-"), arg, count=1)


def _preprocess(tokens: Sequence[ArgToken], ctx: _Ctx) -> list[_Tok]:
    """FlexibleArgumentParser.parse_args before argparse proper."""
    out: list[_Tok] = []
    for i, tok in enumerate(tokens):
        arg = tok.value
        if arg.startswith("--"):
            out.append(_Tok(_normalise(arg), tok))
        elif arg.startswith("-O") and arg != "-O":
            level = arg[3:] if len(arg) > 2 and arg[2] == "=" else arg[2:]
            out += [_Tok("--optimization-level", tok), _Tok(level, tok)]
        elif arg == "-O" and i + 1 < len(tokens) and tokens[i + 1].value in {"0", "1", "2", "3"}:
            out.append(_Tok("--optimization-level", tok))
        else:
            out.append(_Tok(arg, tok))
    return _fold_dotted(out, ctx)


def _fold_dotted(out: list[_Tok], ctx: _Ctx) -> list[_Tok]:
    """Dotted JSON keys (--compilation-config.mode 3) folded into one JSON argument at the end, as
    FlexibleArgumentParser does; ctx.dotted remembers which item set each key."""
    dotted: dict[str, tuple[dict, ArgToken]] = {}
    kept: list[_Tok] = []
    skip = set()
    for i, t in enumerate(out):
        if i in skip:
            continue
        arg = t.text
        if arg.startswith("--") and "." not in arg or not arg.startswith("-") or "." not in arg:
            kept.append(t)
            continue
        if "=" in arg:
            key_part, value = arg.split("=", 1)
            if "." not in key_part:
                kept.append(t)
                continue
        else:
            if i + 1 >= len(out):
                ctx.add(t.origin, arg, f"{arg} needs a value.", "missing-value")
                continue
            key_part, value = arg, out[i + 1].text
            skip.add(i + 1)
        if key_part.endswith("+"):
            key_part, value = key_part[:-1], json.dumps(value.split(","))
        key, *keys = key_part.split(".")
        try:
            parsed: Any = json.loads(value)
        except (ValueError, RecursionError):
            try:
                parsed = _human_int(value)
            except (ValueError, _BadValue):
                parsed = value
        for k in reversed(keys):
            parsed = {k: parsed}
        merged, first = dotted.get(key, ({}, t.origin))
        ctx.dotted[(first.source, ".".join(keys))] = t.origin
        _merge(merged, parsed)
        dotted[key] = (merged, first)
    for key, (merged, first) in dotted.items():
        kept += [_Tok(key, first), _Tok(json.dumps(merged), first)]
    return kept


def _merge(original: dict, update: dict) -> None:
    for k, v in update.items():
        if isinstance(v, dict) and isinstance(original.get(k), dict):
            _merge(original[k], v)
        elif isinstance(v, list) and isinstance(original.get(k), list):
            original[k] += v
        else:
            original[k] = v


# ---------------------------------------------------------------------------- argparse proper


class _Ctx:
    def __init__(self, model: str, spec: EngineSpec):
        self.model = model
        self.spec = spec
        self.problems: list[EngineArgProblem] = []
        # (source of the folded JSON argument, "key.subkey") -> the dotted item that set that key
        self.dotted: dict[tuple[Source, str], ArgToken] = {}

    def add(self, tok: ArgToken, flag: str, message: str, code: str, severity: str = ERROR,
            stage: str = "parser") -> None:
        self.problems.append(
            EngineArgProblem(self.model, flag, message, tok.source, severity, code, tok.origin,
                             tok.user_index, stage, models_yaml_path(tok))
        )


def _match(spec: EngineSpec, arg: str) -> tuple[dict | None, str, str | None, list[str], bool]:
    """argparse's _parse_optional: (option, option string, explicit value, ambiguous matches,
    whether an abbreviation was expanded)."""
    opt = spec.by_string.get(arg)
    if opt is not None:
        return opt, arg, None, [], False
    if "=" in arg:
        name, explicit = arg.split("=", 1)
        if name in spec.by_string:
            return spec.by_string[name], name, explicit, [], False
    if arg.startswith("--"):
        if not spec.allow_abbrev:
            return None, arg, None, [], False
        prefix, _, explicit = arg.partition("=")
        hits = [s for s in spec.long_strings if s.startswith(prefix)]
        explicit_v = explicit if "=" in arg else None
    else:
        short, explicit_short = arg[:2], arg[2:]
        hits, explicit_v = [], None
        for s in spec.by_string:
            if s == short:
                hits.append(s)
                explicit_v = explicit_short
            elif s.startswith(arg):
                hits.append(s)
    if len(hits) == 1:
        return spec.by_string[hits[0]], hits[0], explicit_v, [], True
    return None, arg, None, hits, False


def _is_option_like(spec: EngineSpec, arg: str) -> bool:
    """Whether argparse classifies an argument string as an option ('O') rather than a value."""
    if not arg or arg[0] != "-" or len(arg) == 1:
        return False
    if arg in spec.by_string:
        return True
    if "=" in arg and arg.split("=", 1)[0] in spec.by_string:
        return True
    return not (_NEG_NUMBER.match(arg) or " " in arg)


def _did_you_mean(spec: EngineSpec, arg: str) -> str:
    name = arg.split("=", 1)[0]
    hits = difflib.get_close_matches(name, spec.long_strings, n=1, cutoff=0.75)
    if not hits and name.startswith("--disable-"):
        alt = "--no-enable-" + name[len("--disable-"):]
        hits = [alt] if alt in spec.by_string else []
    return f"; did you mean {hits[0]}?" if hits else "."


def _nargs_range(nargs: Any) -> tuple[int, int | None]:
    if nargs is None:
        return 1, 1
    if nargs == "?":
        return 0, 1
    if nargs == "*":
        return 0, None
    if nargs == "+":
        return 1, None
    return int(nargs), int(nargs)


@dataclass(slots=True)
class Occurrence:
    opt: dict
    flag: str
    value: Any
    raw: list[str]
    token: ArgToken
    value_tokens: tuple[ArgToken, ...] = ()  # the separate argv items that held the values, if any


def _parse(toks: list[_Tok], ctx: _Ctx) -> list[Occurrence]:
    spec = ctx.spec
    occ: list[Occurrence] = []
    positionals_left = 1  # model_tag, nargs "?"
    i, n = 0, len(toks)
    only_values = False
    while i < n:
        arg = toks[i].text
        if arg == "--" and not only_values:
            only_values = True
            if not positionals_left:  # argparse leaves `--` over unless the model follows it
                _stray(ctx, toks, i)
            i += 1
        elif only_values or not _is_option_like(spec, arg):
            if positionals_left:
                positionals_left -= 1
            else:
                _stray(ctx, toks, i)
            i += 1
        else:
            i = _parse_option(toks, i, ctx, occ, only_values=only_values, positionals_left=positionals_left)
    return occ


def _parse_option(toks: list[_Tok], i: int, ctx: _Ctx, occ: list[Occurrence], *, only_values: bool,
                  positionals_left: int) -> int:
    """The option at toks[i] with its values: an Occurrence appended to `occ`, or its problem added to
    `ctx`; returns the index of the item after it."""
    spec, t = ctx.spec, toks[i]
    arg, n = t.text, len(toks)
    opt, flag, explicit, ambiguous, abbreviated = _match(spec, arg)
    if ambiguous or opt is None:
        return _unmatched(toks, i, ctx, ambiguous)
    base = arg.split("=", 1)[0]
    if abbreviated and base.startswith("--"):
        ctx.add(t.origin, flag, f"{base} is an abbreviation of {flag}; spell it out so a newer vLLM "
                "flag cannot make it ambiguous.", "abbreviation", WARNING)
    lo, hi = _nargs_range(opt["nargs"])
    if opt["action"] == "help":
        ctx.add(t.origin, flag, f"{flag} prints the help text and exits instead of serving.", "help")
        return i + 1
    if explicit is not None:
        if hi == 0:
            ctx.add(t.origin, flag, f"{flag} is a switch and takes no value, but got {explicit!r}.",
                    "unexpected-value")
            return i + 1
        raws = [explicit]
        value_tokens: tuple[ArgToken, ...] = ()
        i += 1
    else:
        j = i + 1
        while j < n and (hi is None or j - i - 1 < hi) and (only_values or not _is_option_like(spec, toks[j].text)):
            j += 1
        raws = [x.text for x in toks[i + 1 : j]]
        value_tokens = tuple(x.origin for x in toks[i + 1 : j])
        if len(raws) < lo:
            need = "a value" if lo == 1 and hi == 1 else f"at least {lo} value(s)"
            ctx.add(t.origin, flag, f"{flag} needs {need}.", "missing-value")
            return j
        i = j
    occ.append(_take(ctx, opt, flag, raws, t.origin, value_tokens))
    if hi == 0 and i < n and not _is_option_like(spec, toks[i].text) and not only_values and not positionals_left:
        # A value after a switch (`--enable-lora true`) ends up as a stray argument.
        nxt = toks[i]
        if nxt.text.startswith("-"):  # "--flag value" written as one item
            _stray(ctx, toks, i)
        else:
            ctx.add(nxt.origin, flag, f"{flag} is a switch and takes no value, but {nxt.text!r} follows it; "
                    "remove the value.", "unexpected-value")
        i += 1
    return i


def _unmatched(toks: list[_Tok], i: int, ctx: _Ctx, ambiguous: list[str]) -> int:
    """An ambiguous abbreviation or an unknown flag at toks[i]: the problem, and the index past its values."""
    spec, t = ctx.spec, toks[i]
    arg = t.text
    end = _skip_values(spec, toks, i + 1)
    if ambiguous:
        shown = ", ".join(ambiguous[:6]) + (", ..." if len(ambiguous) > 6 else "")
        ctx.add(t.origin, arg, f"{arg} is an ambiguous abbreviation: it could mean {shown}; spell the flag "
                "out.", "ambiguous-flag")
        return end
    trailing = " ".join(x.text for x in toks[i + 1 : end])
    extra = f" (with {trailing!r})" if trailing else ""
    ctx.add(t.origin, arg, f"unknown flag {arg.split('=', 1)[0]}{extra} for vLLM {spec.version}"
            f"{_did_you_mean(spec, arg)}", "unknown-flag")
    return end


def _skip_values(spec: EngineSpec, toks: list[_Tok], j: int) -> int:
    while j < len(toks) and not _is_option_like(spec, toks[j].text):
        j += 1
    return j


def _stray(ctx: _Ctx, toks: list[_Tok], i: int) -> None:
    t = toks[i]
    head, _, rest = t.text.partition(" ")
    if head.startswith("-") and rest:
        # A YAML list item "--max-model-len 4096" reaches vLLM as ONE argument, not two.
        ctx.add(t.origin, head, f"{t.text!r} is a single argument with a space in it; write the flag and its value "
                f"as two extraArgs items (or as {head}={rest}).", "stray-argument")
        return
    ctx.add(t.origin, t.text, f"stray argument {t.text!r}: it follows no flag that takes a value.",
            "stray-argument")


def _take(ctx: _Ctx, opt: dict, flag: str, raws: list[str], tok: ArgToken,
          value_tokens: tuple[ArgToken, ...] = ()) -> Occurrence:
    action = opt["action"]
    if action == "boolean_optional":
        return Occurrence(opt, flag, not flag.startswith("--no-"), raws, tok)
    if action == "store_true":
        return Occurrence(opt, flag, True, raws, tok)
    if action == "store_false":
        return Occurrence(opt, flag, False, raws, tok)
    if opt["nargs"] == "?" and not raws:
        return Occurrence(opt, flag, opt.get("const"), raws, tok)
    values = []
    for raw in raws:
        try:
            v = convert(opt, flag, raw)
            _check_choice(opt, flag, v, raw)
            if action == "lora_modules":
                _check_lora(opt, flag, raw)
            values.append(v)
        except _BadValue as e:
            ctx.add(ctx.dotted.get((tok.source, e.key), tok), flag, str(e), e.code)
            values.append(None)
    value = values[0] if opt["nargs"] in (None, "?") else values
    return Occurrence(opt, flag, value, raws, tok, value_tokens)


def _check_lora(opt: dict, flag: str, item: str) -> None:
    if item in ("", "None") or ("=" in item and "," not in item):
        return
    obj = _json(flag, item)
    keys, required = set(opt.get("lora_keys", ())), set(opt.get("lora_required", ()))
    if not isinstance(obj, dict) or set(obj) - keys or required - set(obj):
        raise _BadValue(f"{flag} item {item!r} must be name=path or a JSON object with keys "
                        f"{', '.join(sorted(keys))} ({', '.join(sorted(required))} required).", "bad-json")


# ---------------------------------------------------------------------------- rules and clashes


def _final_values(occ: Iterable[Occurrence]) -> dict[str, Occurrence]:
    last: dict[str, Occurrence] = {}
    for o in occ:
        last[o.opt["dest"]] = o
    return last


def _truthy(o: Occurrence | None) -> bool:
    return bool(o and o.value)


def _apply_rules(ctx: _Ctx, occ: list[Occurrence]) -> None:
    final = _final_values(occ)
    checks = {"requires": _check_requires, "excludes": _check_excludes, "known_value": _check_known_value,
              "range": _check_range, "divides": _check_divides}
    for rule in ctx.spec.rules:
        o = final.get(rule["dest"])
        if o is None:  # every rule is about a flag that is given
            continue
        if rule.get("when") and not _truthy(final.get(rule["when"])) or _truthy(final.get(rule.get("unless", ""))):
            continue
        checks[rule["kind"]](ctx, rule, o, final)


def _value_of(ctx: _Ctx, final: dict[str, Occurrence], dest: str) -> Any:
    """The value vLLM ends up with for `dest`: the last one given, else the parser's default."""
    return final[dest].value if dest in final else ctx.spec.by_dest[dest]["default"]


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_requires(ctx: _Ctx, rule: dict, o: Occurrence, final: dict[str, Occurrence]) -> None:
    if not o.value:
        return
    needs = ctx.spec.by_dest[rule["needs"]]["option_strings"][0]
    if "min" in rule:
        value = _value_of(ctx, final, rule["needs"])
        if _is_int(value) and value >= rule["min"] or rule["needs"] in final and value is None:
            return  # a value that did not convert is reported already
        got = f", got {value}" if rule["needs"] in final else " (not given)" if value is None else \
            f" (not given: the default is {value})"
        ctx.add(o.token, o.flag, f"{o.flag} requires {needs} of at least {rule['min']}{got}.", "missing-companion")
    elif not _truthy(final.get(rule["needs"])):
        where = " (set toolCallParser in models.yaml)" if rule["needs"] == "tool_call_parser" else ""
        ctx.add(o.token, o.flag, f"{o.flag} requires {needs}{where}.", "missing-companion")


def _check_excludes(ctx: _Ctx, rule: dict, o: Occurrence, final: dict[str, Occurrence]) -> None:
    other = final.get(rule["other"])
    # `is`, not `in`: a value 0 (--data-parallel-rank 0) is given, unlike None or a switch left off
    if not o.value or other is None or other.value is None or other.value is False:
        return
    allowed = rule.get("allow")
    if allowed is None:
        ctx.add(o.token, o.flag, f"{o.flag} cannot be combined with {other.flag}.", "conflicting-flags")
    elif other.value not in allowed:
        ctx.add(o.token, o.flag, f"{o.flag} cannot be combined with {other.flag} {' '.join(other.raw)}; it allows "
                f"{other.flag} {' or '.join(map(str, allowed))} only.", "conflicting-flags")


def _check_divides(ctx: _Ctx, rule: dict, o: Occurrence, final: dict[str, Occurrence]) -> None:
    divisor, of = _value_of(ctx, final, rule["divisor"]), _value_of(ctx, final, rule["of"])
    if not o.value or not (_is_int(divisor) and _is_int(of)) or divisor < 1 or of % divisor == 0:
        return  # a missing or non-positive divisor is a `requires` rule's to report
    names = [ctx.spec.by_dest[d]["option_strings"][0] for d in (rule["of"], rule["divisor"])]
    ctx.add(o.token, o.flag, f"{o.flag} requires {names[0]} ({of}) to be a multiple of {names[1]} ({divisor}).",
            "conflicting-flags")


def _check_known_value(ctx: _Ctx, rule: dict, o: Occurrence, final: dict[str, Occurrence]) -> None:
    if not o.value or o.value in rule["values"]:
        return
    hint = difflib.get_close_matches(str(o.value), rule["values"], n=1, cutoff=0.6)
    dym = f" (did you mean {hint[0]}?)" if hint else ""
    ctx.add(o.token, o.flag, f"{o.flag} {o.value!r} is not a parser vLLM {ctx.spec.version} knows{dym}; "
            f"choose from {', '.join(rule['values'])}.", "bad-choice", stage="engine")


def _check_range(ctx: _Ctx, rule: dict, o: Occurrence, final: dict[str, Occurrence]) -> None:
    v = o.value
    if not isinstance(v, int | float) or isinstance(v, bool) or v in rule.get("allow", ()):
        return
    lo, hi = rule.get("min"), rule.get("max")
    low_bad = lo is not None and (v <= lo if rule.get("min_exclusive") else v < lo)
    high_bad = hi is not None and v > hi
    if not (low_bad or high_bad):
        return
    parts = []
    if lo is not None:
        parts.append(f"greater than {lo}" if rule.get("min_exclusive") else f"at least {lo}")
    if hi is not None:
        parts.append(f"at most {hi}")
    stage = rule.get("stage", "engine")
    code = "out-of-range"
    ctx.add(o.token, o.flag, f"{o.flag} must be {' and '.join(parts)}, got {o.raw[0] if o.raw else v}.", code,
            stage=stage)


_CHART_OWNED = {"host": "the chart's Service", "port": "the chart's probes and Service"}


def _clashes(ctx: _Ctx, occ: list[Occurrence]) -> None:
    """Flags the user passes in extraArgs that fight what models.yaml fields or the chart set."""
    seen: dict[str, Occurrence] = {}
    for o in occ:
        dest = o.opt["dest"]
        prev = seen.get(dest)
        seen.setdefault(dest, o)
        if prev is None or o.opt["action"] == "append" or o.token.origin != USER:
            continue
        if prev.token.origin == USER:
            same = prev.value == o.value
            ctx.add(o.token, o.flag, f"{o.flag} is given twice in extraArgs"
                    + (" with the same value; drop one." if same else
                       f" ({' '.join(prev.raw) or prev.flag} and {' '.join(o.raw) or o.flag}); the last one wins."),
                    "duplicate", WARNING, "chart")
            continue
        owner = describe_source(prev.token.source)
        if prev.token.origin == RENDERING:
            msg = (f"{o.flag} is already set by vllmctl from the model's name, which the router matches "
                   f"requests on; remove it from extraArgs.")
        elif prev.token.origin == CHART:
            msg = f"{o.flag} overrides the value {_CHART_OWNED.get(dest, 'the chart')} relies on; remove it."
        elif prev.value == o.value:
            ctx.add(o.token, o.flag, f"{o.flag} repeats {owner} from models.yaml; drop it from extraArgs.",
                    "duplicate", WARNING, "chart")
            continue
        elif prev.opt["action"] == "boolean_optional":
            msg = (f"{o.flag} contradicts {prev.flag}, which the chart passes because of {owner}; set that "
                   f"field in models.yaml instead.")
        else:
            msg = (f"{o.flag} {' '.join(o.raw)} contradicts {owner} ({' '.join(prev.raw)}) from models.yaml; "
                   f"set it there only.")
        ctx.add(o.token, o.flag, msg, "conflict", ERROR, "chart")


# ---------------------------------------------------------------------------- entry points


def check(model_name: str, argv_tokens: Sequence[ArgToken], spec: EngineSpec) -> list[EngineArgProblem]:
    """Every problem with one model's `vllm serve` argv (without `vllm serve` itself)."""
    ctx = _Ctx(model_name, spec)
    for tok in argv_tokens:
        if tok.value == "--model" or tok.value.startswith("--model="):
            ctx.add(tok, "--model", "--model duplicates the model the chart passes from modelURL; remove it.",
                    "model-flag")
        elif tok.value == "--config" or tok.value.startswith("--config="):
            ctx.add(tok, "--config", "--config reads flags from a file inside the pod, which vllmctl cannot "
                    "check; prefer extraArgs.", "config-file", WARNING)
    toks = _preprocess(argv_tokens, ctx)
    occ = _parse(toks, ctx)
    _apply_rules(ctx, occ)
    _clashes(ctx, occ)
    for o in occ:
        if o.opt.get("deprecated") and o.token.origin == USER:
            ctx.add(o.token, o.flag, f"{o.flag} is deprecated in vLLM {spec.version} and may be removed.",
                    "deprecated", WARNING)
    return ctx.problems


def occurrences(argv_tokens: Sequence[ArgToken], spec: EngineSpec) -> list[Occurrence]:
    """Every flag of an argv as vLLM's parser reads it (any spelling: `-tp 2`, `--tensor_parallel_size=2`,
    an abbreviation), in order; values that do not convert are None."""
    ctx = _Ctx("", spec)
    return _parse(_preprocess(argv_tokens, ctx), ctx)


def effective_values(argv_tokens: Sequence[ArgToken], spec: EngineSpec) -> dict[str, Any]:
    """dest -> the value vLLM ends up with for each flag given (the last one wins)."""
    return {dest: o.value for dest, o in _final_values(occurrences(argv_tokens, spec)).items() if o.value is not None}


def check_model_spec(
    model_spec: dict[str, Any],
    chart_version: str,
    *,
    spec: EngineSpec | None = None,
    rendered_extra_args: Iterable[int] | None = None,
) -> tuple[list[EngineArgProblem], str | None]:
    """Check one rendered modelSpec: (problems, warning about the image tag's data or None).

    The data follows the modelSpec's image `tag` unless a spec is given."""
    from vllmctl.core.engine_argv import engine_argv

    warning = None
    if spec is None:
        spec, warning = spec_for_tag(model_spec.get("tag"))
    rendered = None if rendered_extra_args is None else set(rendered_extra_args)
    tokens = engine_argv(model_spec, chart_version, rendered_extra_args=rendered)
    return check(str(model_spec.get("name", model_spec.get("modelURL", "?"))), tokens, spec), warning


def check_argv(argv: Sequence[str], spec: EngineSpec, model_name: str = "model") -> list[EngineArgProblem]:
    """Check a plain argv (after `vllm serve`); sources are ("argv", index)."""
    tokens = [ArgToken(a, ("argv", i), USER, i) for i, a in enumerate(argv)]
    return check(model_name, tokens, spec)


def parser_rejects(problems: Iterable[EngineArgProblem]) -> bool:
    """Whether the real `vllm serve` would refuse the command line before loading anything."""
    return any(p.severity == ERROR and p.stage == "parser" for p in problems)


def errors(problems: Iterable[EngineArgProblem]) -> list[EngineArgProblem]:
    return [p for p in problems if p.severity == ERROR]


__all__ = [
    "CHART", "RENDERING", "USER", "VALUES", "EngineArgProblem", "EngineSpec", "available_versions",
    "check", "check_argv", "check_model_spec", "convert", "effective_values", "errors", "load_spec", "occurrences",
    "parser_rejects", "spec_for_tag",
]
