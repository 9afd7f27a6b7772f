"""click's usage errors as vllmctl's one line: one did-you-mean, where the help is, exit 2."""

from __future__ import annotations

import pytest

from tests.helpers import run_cli


@pytest.mark.parametrize(("args", "expected"), [
    (["instal"], "error: No such command 'instal'. (Did you mean one of: 'install', 'uninstall'?) "
                 "(see `vllmctl --help`)"),
    (["install", "--tiemout", "5m"], "error: No such option '--tiemout'. Did you mean '--timeout'? "
                                     "(see `vllmctl install --help`)"),
    (["plan", "-o", "xml"], "error: Invalid value for '--output' / '-o': 'xml' is not one of 'text', 'json'. "
                            "(see `vllmctl plan --help`)"),
])
def test_a_usage_error_is_one_line_with_one_suggestion(args, expected, tmp_path):
    r = run_cli(*args, cwd=tmp_path)
    assert r.code == 2, r.output
    assert r.stderr.strip() == expected
    assert r.stderr.count("Did you mean") <= 1 and r.stdout == ""


def test_no_command_prints_the_help(tmp_path):
    r = run_cli(cwd=tmp_path)
    assert "Usage: vllmctl [OPTIONS] COMMAND" in r.output and "install" in r.output


@pytest.mark.parametrize(("args", "kept"), [
    (["install", "--namespace", "x"], ["install"]),
    (["--debug", "-q", "chart", "pull"], ["chart"]),
    (["--quiet", "render", "--help"], ["render"]),
    (["--help"], None),  # the root's help lists every command
    (["instal"], None),  # click's did-you-mean weighs them all
    ([], None),
])
def test_the_start_builds_only_the_command_the_line_names(args, kept):
    from typer.main import get_command

    from vllmctl.commands.app import build_app, only_the_named_command

    app = build_app()
    every = sorted(get_command(app).commands)
    only_the_named_command(app, args)
    assert sorted(get_command(app).commands) == (kept or every)
    assert len(every) > 30
