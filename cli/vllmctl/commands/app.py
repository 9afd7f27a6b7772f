"""The root command: error handling, exit codes, global flags."""

from __future__ import annotations

import importlib
import os
import sys

import typer
from click.exceptions import Abort, ClickException, Exit, UsageError
from typer.core import TyperGroup

from vllmctl import console, errors

_debug = False


class Root(TyperGroup):
    """Turns vllmctl errors into one line on stderr and their exit code; no traceback without --debug."""

    def list_commands(self, ctx):  # keep registration order in --help
        return list(self.commands)

    def invoke(self, ctx: typer.Context):
        try:
            return super().invoke(ctx)
        except errors.VllmctlError as e:
            if _debug:
                raise
            console.error(str(e))
            ctx.exit(e.exit_code)
        except KeyboardInterrupt:
            console.error("interrupted.")
            ctx.exit(errors.INTERRUPTED)
        except (ClickException, Exit, Abort):
            raise
        except Exception as e:  # noqa: BLE001 - the last line of defence against tracebacks
            if _debug:
                raise
            console.error(f"unexpected {type(e).__name__}: {e} (rerun with --debug for a traceback)")
            ctx.exit(errors.FAILED)


def _root(
    debug: bool = typer.Option(False, "--debug", help="show tracebacks", envvar="VLLMCTL_DEBUG"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="only errors and data"),
) -> None:
    """Install and operate the vLLM production stack on Kubernetes from a models.yaml.

    Exit codes: 0 ok, 1 operation failed, 2 invalid input or usage, 3 a server is unreachable,
    4 rollout failed, 5 no changes (with --detailed-exit-code), 130 interrupted.
    """
    global _debug
    _debug = debug
    console.set_quiet(quiet)


def build_app() -> typer.Typer:
    import typer.core

    from vllmctl.commands import MODULES

    # With rich installed, Typer formats help through rich's markdown stack (~50 ms of start-up);
    # click's plain help says the same. Our own rich output (console.py) is unaffected.
    typer.core.HAS_RICH = False

    app = typer.Typer(
        cls=Root,
        add_completion=False,
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    app.callback()(_root)
    for name in MODULES:
        importlib.import_module(f"vllmctl.commands.{name}").register(app)
    return app


def load_dotenv_file(path: str = ".env.local") -> None:
    """Settings from .env.local (as `just` loads it), never overriding the real environment."""
    from vllmctl.core.settings import parse_dotenv

    try:
        with open(path, encoding="utf-8") as handle:
            values = parse_dotenv(handle.read())
    except (FileNotFoundError, IsADirectoryError):
        return
    for key, value in values.items():
        os.environ.setdefault(key, value)


def main(argv: list[str] | None = None) -> int:
    load_dotenv_file()
    app = build_app()
    try:
        result = app(args=argv, prog_name="vllmctl", standalone_mode=False)
    except Exit as e:
        return e.exit_code
    except Abort:
        console.error("aborted.")
        return errors.INTERRUPTED
    except ClickException as e:
        e.show()
        return errors.INVALID if isinstance(e, UsageError) else e.exit_code
    return result if isinstance(result, int) else 0


def run() -> None:
    sys.exit(main())
