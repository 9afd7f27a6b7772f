"""Problems found in an input file, as the one-line `file:line:column: message` users see.

Whatever a file holds reaches the terminal only through `escaped` / `shown`: control characters
and line breaks are written as escapes (a value cannot forge an output line or move the cursor),
and long values are cut.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from vllmctl.errors import InvalidInput

SHOWN_CHARS = 60  # of one echoed value
MAX_PROBLEMS = 50  # reported per file; the rest are counted
# C0 and C1 controls, DEL, and the Unicode line/paragraph separators and bidi overrides.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]")


def _escape(match: re.Match) -> str:
    ch = match.group()
    return {"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(ch) or (
        f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}"
    )


def escaped(text: str) -> str:
    """`text` with every control, line-break or direction-changing character written as an escape."""
    return _UNSAFE.sub(_escape, text)


def shown(value: object, limit: int = SHOWN_CHARS) -> str:
    """A value as messages quote it: repr-like, escaped, at most `limit` characters (then cut)."""
    text = escaped(repr(value) if isinstance(value, str) else str(value))
    if len(text) > limit:
        extra = f"... ({len(value)} characters)" if isinstance(value, str) else "..."
        return text[: limit - 3] + extra
    return text


@dataclass(frozen=True)
class Problem:
    file: str
    line: int  # 1-based
    column: int  # 1-based
    message: str

    def __str__(self) -> str:
        return f"{escaped(self.file)}:{self.line}:{self.column}: {escaped(self.message)}"

    def as_dict(self) -> dict:
        return {"file": self.file, "line": self.line, "column": self.column, "message": self.message}


class FileProblem(Protocol):
    """What InvalidFile reports: a Problem, or a finding of the chart check (core.chart_lint.Finding),
    each printed as its own line."""

    @property
    def file(self) -> str: ...

    @property
    def message(self) -> str: ...

    def as_dict(self) -> dict: ...


class InvalidFile(InvalidInput):
    """One or more problems in one input file: one line each (at most MAX_PROBLEMS), exit 2."""

    def __init__(self, problems: Sequence[FileProblem]) -> None:
        self.problems = problems
        lines = [str(p) for p in problems[:MAX_PROBLEMS]]
        if len(problems) > MAX_PROBLEMS:
            lines.append(f"{escaped(problems[0].file)}: ... and {len(problems) - MAX_PROBLEMS} more problems")
        super().__init__("\n".join(lines))


def problem_at(file: str, text: str, offset: int, message: str) -> Problem:
    """A Problem at character `offset` of `text` (line and column counted as editors do)."""
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return Problem(file, line, column, message)


def existing_position(text: str, line: int, column: int) -> tuple[int, int]:
    """(line, column) moved onto the text: a parser that meets the end of the file reports the line
    after the last one, which no editor can go to; that is the end of the last line instead."""
    lines = text.splitlines()
    if not lines:
        return 1, 1
    if line > len(lines):
        return len(lines), len(lines[-1]) + 1
    line = max(line, 1)
    return line, min(max(column, 1), len(lines[line - 1]) + 1)
