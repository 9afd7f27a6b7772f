"""All terminal output goes through here: the only module that imports rich.

Data (tables, JSON, bare secret values) goes to stdout; messages, warnings and progress go to
stderr, so `vllmctl get-api-key | ...` and `--output json | jq` see nothing else. rich is imported
on first use to keep start-up fast.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Sequence
from functools import cache
from typing import Any

_quiet = False
_json_output = False  # --output json was asked for
_json_emitted = False  # a JSON document is already on stdout


def set_quiet(quiet: bool) -> None:
    global _quiet
    _quiet = quiet


def set_json_output(wanted: bool) -> None:
    global _json_output
    _json_output = wanted


@cache
def _console(stderr: bool):
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=True)


# What rich's Text drops from a message (bell, backspace, vertical tab, form feed, carriage return)
_CONTROL = dict.fromkeys((7, 8, 11, 12, 13))


def _say(style: str, prefix: str, message: str) -> None:
    """Messages carry text from the cluster, Vault and the Hub: printed verbatim, never as markup.
    Where stderr is no terminal (a pipe, a CI log) there is nothing to style, and the same
    characters are written without importing rich (~0.04 s of a command's start)."""
    if not sys.stderr.isatty():
        sys.stderr.write((prefix + message).translate(_CONTROL) + "\n")
        return
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


_DIFF_STYLES = (("+++", "bold"), ("---", "bold"), ("@@", "cyan"), ("+", "green"), ("-", "red"))


def diff(text: str) -> None:
    """A unified diff on stdout: coloured on a terminal (never with NO_COLOR, TERM=dumb or a pipe)."""
    import os

    if not sys.stdout.isatty() or os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        data(text)
        return
    from rich.text import Text

    out = _console(False)
    for line in text.splitlines():
        style = next((style for prefix, style in _DIFF_STYLES if line.startswith(prefix)), "")
        out.print(Text(line, style=style))


def emit_json(obj: Any) -> None:
    global _json_emitted
    data(json.dumps(obj, indent=2, sort_keys=False, default=str))
    _json_emitted = True


def json_failure(message: str, exit_code: int) -> None:
    """With --output json, a failure is a JSON document on stdout too (unless the command wrote its own),
    so `... -o json | jq` never reads an empty stream."""
    if _json_output and not _json_emitted:
        emit_json({"ok": False, "error": message, "exit_code": exit_code})


GAP = "   "  # kubectl's; two spaces when the table has to fold


def _fit(widths: list[int], floor: list[int], room: int) -> list[int]:
    """Column widths summing to at most `room`: the widest column gives way first, none below its floor."""
    widths = list(widths)
    while sum(widths) > room:
        shrinkable = [i for i, w in enumerate(widths) if w > floor[i]]
        if not shrinkable:
            break
        widest = max(shrinkable, key=lambda i: widths[i])
        widths[widest] -= 1
    return widths


def _fold(cell: str, width: int) -> list[str]:
    import textwrap

    if len(cell) <= width:
        return [cell]
    return textwrap.wrap(cell, width) or [""]


def _terminal_columns() -> int | None:
    """The terminal's width when stdout is one; None for pipes and files (lines stay whole for grep)."""
    import shutil

    return shutil.get_terminal_size().columns if sys.stdout.isatty() else None


def table(columns: Sequence[str], rows: Iterable[Sequence[Any]], title: str | None = None, *,
          gap: str | None = None) -> None:
    """Aligned columns in kubectl's style; on a terminal narrower than the table, the widest
    columns fold their cells onto further lines, each within its own column."""
    cells = [list(columns)] + [["" if c is None else str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]
    terminal, gap = _terminal_columns(), gap or GAP
    if terminal and sum(widths) + len(gap) * (len(columns) - 1) > terminal:
        gap = "  "
        floor = [min(w, max(len(c), 8)) for w, c in zip(widths, columns, strict=True)]
        widths = _fit(widths, floor, terminal - len(gap) * (len(columns) - 1))
    lines = [title] if title else []
    for row in cells:
        folded = [_fold(c, w) for c, w in zip(row, widths, strict=True)]
        for i in range(max(len(f) for f in folded)):
            parts = [f[i] if i < len(f) else "" for f in folded]
            lines.append(gap.join(p.ljust(w) for p, w in zip(parts, widths, strict=True)).rstrip())
    data("\n".join(lines))


class LiveText:
    """A live-updating region on stderr (rollout progress, bench progress) showing plain text: what
    it shows carries pod events and messages from the cluster, never parsed as rich markup."""

    def __init__(self, text: str) -> None:
        from rich.live import Live

        self._live = Live(_plain(text), console=_console(True), refresh_per_second=4, transient=False)

    def update(self, text: str) -> None:
        self._live.update(_plain(text))

    def start(self) -> None:
        self._live.start()

    def stop(self) -> None:
        self._live.stop()

    def __enter__(self) -> LiveText:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _plain(text: str):
    from rich.text import Text

    return Text(text)


def live(text_fn: Callable[[], str]) -> LiveText:
    return LiveText(text_fn())
