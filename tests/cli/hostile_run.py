"""Running the CLI on hostile input and checking what every such run must show.

A run is a child process measured with wait4: its CPU time and peak memory (ru_maxrss) are the
child's own, so the bounds hold on a loaded machine where wall time would not. Wall time only
guards against a hang (the child is killed at HANG_S).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from tests.helpers import cli_env

CPU_S = 2.0
MAX_RSS_MB = 300
HANG_S = 60.0
LINE_CHARS = 400  # values are cut to 60 characters; a message line stays well below this
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


@dataclass
class Measured:
    code: int
    stdout: str
    stderr: str
    cpu_s: float
    rss_mb: float
    wall_s: float


def run_measured(args, cwd: Path, env: dict[str, str] | None = None, input: bytes = b"") -> Measured:
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, tempfile.TemporaryFile() as inp:
        inp.write(input)
        inp.seek(0)
        start = time.monotonic()
        proc = subprocess.Popen([sys.executable, "-m", "vllmctl.main", *args], cwd=cwd, env=cli_env(env),
                                stdin=inp, stdout=out, stderr=err, start_new_session=True)
        deadline = start + HANG_S
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                os.killpg(proc.pid, signal.SIGKILL)
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.01)
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here; keep Popen from waiting
        wall = time.monotonic() - start
        out.seek(0)
        err.seek(0)
        return Measured(proc.returncode, out.read().decode("utf-8", "replace"), err.read().decode("utf-8", "replace"),
                        usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, wall)


def snapshot(root: Path) -> dict[str, object]:
    """Every entry under `root`: the bytes of regular files, the kind and target of the others."""
    result: dict[str, object] = {}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for name in dirnames + filenames:
            path = Path(dirpath, name)
            rel = str(path.relative_to(root))
            if path.is_symlink():
                result[rel] = ("link", os.readlink(path))
            elif path.is_file() and not path.is_fifo():
                result[rel] = path.read_bytes()
            else:
                result[rel] = ("special", os.lstat(path).st_mode)
    return result


def check_refusal(r: Measured, *, code: int, message: str, where: str | None, lines: int | None) -> list[str]:
    """The problems (one per line, without the `error: ` prefix) after checking the common rules."""
    assert r.wall_s < HANG_S, "the command hung (killed)"
    assert r.code == code, f"exit {r.code}, expected {code}: {r.stderr[-2000:]}"
    assert "Traceback" not in r.stderr and not re.search(r"unexpected \w+(Error|Exception)", r.stderr), r.stderr[-2000:]
    assert r.cpu_s < CPU_S, f"{r.cpu_s:.2f} s of CPU"
    assert r.rss_mb < MAX_RSS_MB, f"{r.rss_mb:.0f} MB of memory"
    if code == 0:
        return []
    assert r.stdout == "", f"partial output on stdout: {r.stdout[:300]!r}"
    text = r.stderr.rstrip("\n")
    assert text.startswith("error: "), text[:300]
    problems = text.removeprefix("error: ").split("\n")
    for line in problems:
        assert len(line) <= LINE_CHARS, f"a {len(line)}-character line: {line[:120]}..."
        assert not _CONTROL.search(line), f"a raw control character: {line!r}"
    assert re.search(message, text), f"{message!r} not in {text[:600]!r}"
    if where is not None:  # "file:line:column", or "file:line:" when the column is not the point
        pattern = re.escape(where) + (r"\d+: " if where.endswith(":") else ": ")
        assert re.match(pattern, problems[0]), f"expected {where} in {problems[0]!r}"
    if lines is not None:
        assert len(problems) == lines, problems[:5]
    return problems
