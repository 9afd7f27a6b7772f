"""Talk to the deployed stack: test-completions, list-api-models, smoke, bench."""

from __future__ import annotations

import typer

from vllmctl.commands.pending import register_pending


def register(app: typer.Typer) -> None:
    register_pending(app, {
        "test-completions": "Send a completion to a model through the router",
        "list-api-models": "List the model ids the router serves",
        "smoke": "Check that every configured model answers",
        "bench": "Benchmark the endpoint",
    })
