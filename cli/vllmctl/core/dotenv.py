"""`.env.local` as just's `set dotenv-load` reads it, or one `file:line:column:` line per line
it would refuse too (so `vllmctl` run directly and through `just` agree).

Supported: `KEY=VALUE`, `export KEY=VALUE`, comments, blank lines, 'single' (literal) and "double"
quotes (\\" \\\\ \\n escapes), a ` # comment` after a value, and `$NAME` / `${NAME}` in unquoted and
double-quoted values (an earlier line of the file, else the environment, else empty). Refused,
as just refuses them: a line without `=`, a key that is not a variable name, an unquoted value
with blanks, an unterminated quote. Values spanning lines are not supported.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from vllmctl.core.input_file import SourceText
from vllmctl.core.problems import InvalidFile, Problem

_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_VAR = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")
_ESCAPES = {'"': '"', "\\": "\\", "n": "\n", "t": "\t", "$": "$"}


class _Bad(Exception):
    def __init__(self, column: int, message: str):
        self.column, self.message = column, message


def _substitute(value: str, known: Mapping[str, str], environ: Mapping[str, str]) -> str:
    def one(m: re.Match) -> str:
        name = m.group(1) or m.group(2)
        return known.get(name, environ.get(name, ""))

    return _VAR.sub(one, value)


def _double_quoted(raw: str, start: int) -> tuple[str, int]:
    """The value of the "..." at raw[start], and the index after its closing quote."""
    out: list[str] = []
    i = start + 1
    while i < len(raw):
        ch = raw[i]
        if ch == '"':
            return "".join(out), i + 1
        if ch == "\\" and i + 1 < len(raw):
            out.append(_ESCAPES.get(raw[i + 1], "\\" + raw[i + 1]))
            i += 2
            continue
        out.append(ch)
        i += 1
    raise _Bad(start + 1, 'the double quote is never closed on this line (values spanning lines are not supported)')


def _value(raw: str, start: int, known, environ) -> str:
    """The value that starts at raw[start] (raw is the whole line)."""
    rest = raw[start:]
    if rest.startswith("'"):
        end = rest.find("'", 1)
        if end < 0:
            raise _Bad(start + 1, "the single quote is never closed on this line")
        value, after = rest[1:end], start + end + 1
    elif rest.startswith('"'):
        value, after = _double_quoted(raw, start)
        value = _substitute(value, known, environ)
    else:
        text = rest.split(" #", 1)[0].split("\t#", 1)[0].strip()
        blank = re.search(r"\s", text)
        if blank:
            raise _Bad(start + blank.start() + 1, "an unquoted value holds a blank; put the value in quotes")
        return _substitute(text, known, environ)
    tail = raw[after:].strip()
    if tail and not tail.startswith("#"):
        raise _Bad(after + 1, "text after the closing quote; remove it or start a comment with ' #'")
    return value


def parse_dotenv(source: SourceText, environ: Mapping[str, str]) -> dict[str, str]:
    """The variables of a checked .env file, or InvalidFile listing every line just would refuse."""
    result: dict[str, str] = {}
    problems = []
    if source.bom:
        problems.append(Problem(source.file, 1, 1, "starts with a byte-order mark, which just refuses; "
                                                   "save it as UTF-8 without one"))
    for number, raw in enumerate(source.text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        at = len(raw) - len(raw.lstrip())
        if line.startswith("export ") or line.startswith("export\t"):
            at += 6 + len(line[6:]) - len(line[6:].lstrip())
        key, sep, _ = raw[at:].partition("=")
        try:
            if not sep:
                raise _Bad(at + 1, "not a KEY=VALUE line; write NAME=value or comment it out with '#'")
            if not _KEY.fullmatch(key.strip()):
                raise _Bad(at + 1, "the name before '=' must be letters, digits and '_', not starting with a digit")
            start = at + len(key) + 1
            start += len(raw[start:]) - len(raw[start:].lstrip())
            result[key.strip()] = _value(raw, start, result, environ)
        except _Bad as e:
            problems.append(Problem(source.file, number, e.column, e.message))
    if problems:
        raise InvalidFile(problems)
    return result
