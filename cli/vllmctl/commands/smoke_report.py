"""How smoke-test results read on the terminal (for `smoke` and `install --smoke` alike)."""

from __future__ import annotations

from vllmctl import console
from vllmctl.workflows.api import SmokeResult


def print_smoke(results: list[SmokeResult]) -> None:
    for r in results:
        if r.ok:
            console.success(f"{r.model}: completion {r.completion_ms:.0f} ms, chat {r.chat_ms:.0f} ms")
        else:
            console.error(f"{r.model}: {r.error}")
