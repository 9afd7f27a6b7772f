"""All terminal output goes through here: the only module that imports rich.

Data (tables, JSON, bare secret values) goes to stdout; messages, warnings and progress go to
stderr, so `vllmctl get-api-key | ...` and `--output json | jq` see nothing else. rich is imported
on first use to keep start-up fast.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from functools import cache
from typing import Any

_quiet = False


def set_quiet(quiet: bool) -> None:
    global _quiet
    _quiet = quiet


@cache
def _console(stderr: bool):
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=True)


def _say(style: str, prefix: str, message: str) -> None:
    from rich.text import Text

    _console(True).print(Text(prefix, style=style) + Text(message))


def info(message: str) -> None:
    if not _quiet:
        _say("", "", message)


def success(message: str) -> None:
    if not _quiet:
        _say("green", "✓ ", message)


def warn(message: str) -> None:
    _say("yellow", "warning: ", message)


def error(message: str) -> None:
    _say("bold red", "error: ", message)


def data(text: str) -> None:
    """Raw text for stdout, unstyled (secret values, paths, YAML)."""
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    sys.stdout.flush()


def emit_json(obj: Any) -> None:
    data(json.dumps(obj, indent=2, sort_keys=False, default=str))


def table(columns: Sequence[str], rows: Iterable[Sequence[Any]], title: str | None = None) -> None:
    """Aligned columns in kubectl's style: readable, greppable, and cheap to print."""
    cells = [list(columns)] + [["" if c is None else str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]
    lines = [title] if title else []
    lines += ["   ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells]
    data("\n".join(lines))


def status(message: str):
    """A spinner on stderr for a step that takes a while; a no-op context when not a TTY."""
    import contextlib

    if _quiet or not sys.stderr.isatty():
        return contextlib.nullcontext()
    return _console(True).status(message)


def live(renderable_fn):
    """A live-updating region on stderr (rollout progress, bench progress)."""
    from rich.live import Live

    return Live(renderable_fn(), console=_console(True), refresh_per_second=4, transient=False)

