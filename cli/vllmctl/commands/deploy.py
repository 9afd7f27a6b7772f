"""install, upgrade, uninstall, diff, rollback, history, preflight, chart pull."""

from __future__ import annotations

import typer

from vllmctl.commands.pending import register_pending


def register(app: typer.Typer) -> None:
    register_pending(app, {
        "install": "Install the stack: namespace, secrets, helm upgrade --install, wait",
        "upgrade": "Upgrade the existing release from models.yaml",
        "uninstall": "Remove the release and its secrets (keeps model caches unless --delete-data)",
        "diff": "Show what upgrade would change",
        "rollback": "Roll the release back to a revision",
        "history": "List the release's revisions",
        "preflight": "Check GPUs, storage and runtime class before deploying",
        "chart-pull": "Vendor the pinned chart into charts/",
    })
