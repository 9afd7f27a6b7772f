"""Commands whose implementation lands in a later issue: the names are final, the work is not done."""

from __future__ import annotations

import typer

from vllmctl.errors import NotYetAvailable

_PASS_THROUGH = {"allow_extra_args": True, "ignore_unknown_options": True}


def register_pending(app: typer.Typer, names: dict[str, str]) -> None:
    """Register `names` (command -> one-line help) as commands that exit with "not yet available"."""
    for name, help_text in names.items():

        def pending(ctx: typer.Context, _name: str = name) -> None:
            raise NotYetAvailable(f"`vllmctl {_name}` is not yet available in this version.")

        app.command(name, help=f"{help_text} (not yet available)", context_settings=_PASS_THROUGH)(pending)
