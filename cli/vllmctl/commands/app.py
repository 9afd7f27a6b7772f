"""The root command: error handling, exit codes, global flags."""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
from pathlib import Path

import click
import typer
from click.exceptions import Abort, ClickException, Exit, NoArgsIsHelpError, UsageError
from typer.core import TyperGroup

from vllmctl import console, errors

_debug = False


class Root(TyperGroup):
    """Turns vllmctl errors into one line on stderr and their exit code; no traceback without --debug."""

    def list_commands(self, ctx):  # keep registration order in --help
        return list(self.commands)

    def format_commands(self, ctx, formatter) -> None:
        """Commands in panels by subject, each with its whole first sentence: click's default cuts
        descriptions to 45 characters, which at 80 columns leaves most of them mid-thought."""
        panels: dict[str, list[tuple[str, str]]] = {}
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is None or command.hidden:
                continue
            panel = getattr(command, "rich_help_panel", None) or "Commands"
            panels.setdefault(panel, []).append((name, command.get_short_help_str(limit=1000)))
        for panel, rows in panels.items():
            with formatter.section(panel):
                formatter.write_dl(rows)

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except errors.VllmctlError as e:
            if _debug:
                raise
            console.error(str(e))
            console.json_failure(str(e), e.exit_code)
            ctx.exit(e.exit_code)
        except KeyboardInterrupt:
            console.error("interrupted.")
            ctx.exit(errors.INTERRUPTED)
        except (ClickException, Exit, Abort):
            raise
        except Exception as e:  # noqa: BLE001 - the last line of defence against tracebacks
            if _debug:
                raise
            # Not a failure the code foresaw (those are VllmctlError): a bug, never "unreachable".
            message = (f"internal error: {type(e).__name__}: {e}; this is a bug in vllmctl: "
                       "run with --debug for the traceback and report it.")
            console.error(message)
            console.json_failure(message, errors.FAILED)
            ctx.exit(errors.FAILED)


def _print_version(value: bool) -> None:
    if value:
        from vllmctl import __version__

        console.data(f"vllmctl {__version__}")
        raise typer.Exit(0)


def _root(
    debug: bool = typer.Option(False, "--debug", help="show tracebacks (also after the command)",
                               envvar="VLLMCTL_DEBUG"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="only errors and data (--quiet also after the command)",
                               envvar="VLLMCTL_QUIET"),
    version: bool = typer.Option(False, "--version", help="print the version and exit", is_eager=True,
                                 callback=_print_version),
) -> None:
    """Install and operate the vLLM production stack on Kubernetes from a models.yaml.

    Exit codes: 0 ok, 1 operation failed, 2 invalid input or usage, 3 a server is unreachable,
    4 rollout failed, 5 no changes (with --detailed-exit-code), 130 interrupted.
    """
    global _debug
    _debug = debug
    console.set_quiet(quiet)


def _wrap_at_spaces_only() -> None:
    """Help text wraps at spaces, never inside `hf-token` or `--no-api-key` (textwrap breaks on hyphens)."""
    from click import _textwrap

    class Wrapper(_textwrap.TextWrapper):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **{**kwargs, "break_on_hyphens": False})

    # click builds its wrapper from the module attribute; a subclass in its place is the whole change.
    setattr(_textwrap, "TextWrapper", Wrapper)  # noqa: B010 - mypy refuses assigning to a class name


def build_app() -> typer.Typer:
    import typer.core

    from vllmctl.commands import MODULES

    # With rich installed, Typer formats help through rich's markdown stack (~50 ms of start-up);
    # click's plain help says the same. Our own rich output (console.py) is unaffected.
    typer.core.HAS_RICH = False
    _wrap_at_spaces_only()

    app = typer.Typer(
        cls=Root,
        add_completion=False,
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        suggest_commands=False,  # click already suggests; Typer's would make it two did-you-means
        rich_markup_mode=None,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    app.callback()(_root)
    for name, panel in MODULES.items():
        known = len(app.registered_commands), len(app.registered_groups)
        importlib.import_module(f"vllmctl.commands.{name}").register(app)
        for info in app.registered_commands[known[0]:] + app.registered_groups[known[1]:]:
            info.rich_help_panel = info.rich_help_panel or panel
    return app


# Global flags a just recipe puts after the command (`just vllm::install --debug`). Only long forms:
# `-q` after the command may be an engine flag's value (`--extra-arg -q`).
_GLOBAL_FLAGS = ("--debug", "--quiet")


def hoist_global_flags(args: list[str]) -> list[str]:
    """`vllmctl install --debug` read as `vllmctl --debug install` (up to a `--`)."""
    end = args.index("--") if "--" in args else len(args)
    found = [a for a in args[:end] if a in _GLOBAL_FLAGS]
    return found + [a for a in args[:end] if a not in _GLOBAL_FLAGS] + args[end:]


def only_the_named_command(app: typer.Typer, args: list[str]) -> None:
    """Keep only the command the command line names (`vllmctl install ...`): Typer builds a click
    command for every registered one before it parses, ~0.1 s of each start for ~40 commands. The
    root's options are flags, so the first word that is not one names the command. Without such a
    word (`vllmctl --help`) or with a word no command has (click's did-you-mean needs them all),
    every command stays."""
    from typer.main import get_command_name

    word = next((a for a in args if not a.startswith("-")), None)
    commands = [c for c in app.registered_commands
                if (c.name or (c.callback and get_command_name(c.callback.__name__))) == word]
    groups = [g for g in app.registered_groups if g.name == word]
    if commands or groups:
        app.registered_commands, app.registered_groups = commands, groups


def load_dotenv_file(path: str = ".env.local") -> None:
    """Settings from .env.local (as `just` loads it), never overriding the real environment;
    InvalidFile (exit 2) when just would refuse the file too."""
    from vllmctl.core.dotenv import parse_dotenv
    from vllmctl.core.input_file import read_source

    try:
        source = read_source(Path(path), file=path)
    except FileNotFoundError:
        return
    for key, value in parse_dotenv(source, os.environ).items():
        os.environ.setdefault(key, value)


def main(argv: list[str] | None = None) -> int:
    try:
        load_dotenv_file()
    except errors.VllmctlError as e:
        console.error(str(e))
        return e.exit_code
    app = build_app()
    args = hoist_global_flags(list(sys.argv[1:] if argv is None else argv))
    only_the_named_command(app, args)
    try:
        result = app(args=args, prog_name="vllmctl", standalone_mode=False)
    except Exit as e:
        return e.exit_code
    except Abort:
        console.error("aborted.")
        return errors.INTERRUPTED
    except ClickException as e:
        if isinstance(e, UsageError) and _handles_secrets(e.ctx):
            _show_redacted(e)
        else:
            _show_one_line(e)
        return errors.INVALID if isinstance(e, UsageError) else e.exit_code
    return result if isinstance(result, int) else 0


def _handles_secrets(ctx) -> bool:
    """A command of commands/secrets.py: any word on its command line may be the secret itself."""
    callback = getattr(getattr(ctx, "command", None), "callback", None)
    return getattr(callback, "__module__", "") == "vllmctl.commands.secrets"


def _show_one_line(e: ClickException) -> None:
    """click's error as one line (click prints a usage block, a hint line and the error), with
    where the help is."""
    if isinstance(e, NoArgsIsHelpError):
        e.show()  # the help itself, as `vllmctl` alone asks for
        return
    ctx = getattr(e, "ctx", None)
    where = f" (see `{ctx.command_path} --help`)" if isinstance(e, UsageError) and ctx is not None else ""
    console.error(" ".join(e.format_message().split()) + where)


def _show_redacted(e: UsageError) -> None:
    """click's usage error without the offending words (click would echo `get-api-key sk-...`)."""
    name = e.ctx.command_path if e.ctx is not None else "vllmctl"
    console.error(f"`{name}`: an argument or option it does not take, or a value it refuses (not repeated "
                  "here: it may be a secret). Secrets go on stdin (--stdin) or in the environment; "
                  f"see `{name} --help`.")


def run() -> None:
    """The console script. It leaves without the interpreter's teardown (freeing every module and
    object a run made: pydantic's schemas, the kubernetes client), which measured 0.1-0.6 s after
    an install's own work was done. Nothing of vllmctl's needs it: files are closed, children waited
    for and temporary directories removed where they are made; what is still buffered is written here."""
    code = main()
    for stream in (sys.stdout, sys.stderr):
        # a reader that went away (a closed pipe) has nothing left to be told
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)
