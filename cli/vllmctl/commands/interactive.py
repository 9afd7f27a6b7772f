"""Prompts, only on a TTY: with --yes, CI=true or no TTY a missing answer names the flag that supplies it."""

from __future__ import annotations

import os
import sys

import typer

from vllmctl.errors import MissingAnswer


def interactive(yes: bool = False) -> bool:
    ci = os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")
    return not yes and not ci and sys.stdin.isatty() and sys.stderr.isatty()


def ask(question: str, *, flag: str, yes: bool, default=None, hide: bool = False, type=str, check=None):
    """The answer to `question`; `check(answer)` returns what is wrong with it (then it asks again) or None."""
    if not interactive(yes):
        raise MissingAnswer(f"{question} is required: pass {flag}.")
    while True:
        answer = typer.prompt(question, default=default, hide_input=hide, type=type, err=True)
        if isinstance(answer, str):
            answer = answer.strip()
        problem = check(answer) if check else None
        if problem is None:
            return answer
        typer.echo(f"{problem}; try again (or pass {flag}).", err=True)


def confirm(question: str, *, yes: bool, flag: str = "--yes", default: bool = False) -> bool:
    if yes:
        return True
    if not interactive(yes):
        raise MissingAnswer(f"{question} needs confirmation: pass {flag}.")
    return typer.confirm(question, default=default, err=True)


def choose(question: str, options: list[str], *, flag: str, yes: bool) -> str:
    if not options:
        raise MissingAnswer(f"{question}: nothing to choose from.")
    if not interactive(yes):
        raise MissingAnswer(f"{question}: pass {flag} (one of {', '.join(options)}).")
    for number, option in enumerate(options, 1):
        typer.echo(f"  {number}) {option}", err=True)
    while True:
        answer = typer.prompt(question, err=True).strip()
        if answer in options:
            return answer
        if answer.isdigit() and 1 <= int(answer) <= len(options):
            return options[int(answer) - 1]
        typer.echo(f"Choose a number from 1 to {len(options)} or a name.", err=True)


def hidden_prompt(yes: bool):
    """A hidden prompt for workflows (prepare_secrets, Vault token), or None when prompts are not allowed."""
    if not interactive(yes):
        return None

    def prompt(question: str) -> str:
        return typer.prompt(question, hide_input=True, default="", show_default=False, err=True)

    return prompt
