"""A write killed with SIGKILL at any moment leaves the old file or the new one, and no temp file."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from tests.helpers import REPO
from vllmctl.adapters.files import write_atomic

WRITER = """
import sys
from pathlib import Path
from vllmctl.adapters.files import write_atomic
path, n = Path(sys.argv[1]), 0
print("ready", flush=True)
while True:
    n += 1
    write_atomic(path, (str(n % 10) * 8_000_000) + "\\n")
"""


def test_sigkill_during_writes_leaves_no_temp_file(tmp_path):
    target = tmp_path / "models.yaml"
    target.write_text("old\n")
    env = {**os.environ, "PYTHONPATH": str(REPO / "cli")}
    kills = leftovers = 0
    for delay in (0.0, 0.05, 0.13, 0.21, 0.34, 0.55):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(target)], env=env, stdout=subprocess.PIPE)
        assert proc.stdout.readline() == b"ready\n"
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        data = target.read_bytes()
        assert data == b"old\n" or (len(data) == 8_000_001 and len(set(data[:-1])) == 1), "a half-written file"
        stray = [p for p in tmp_path.iterdir() if p.name != "models.yaml"]
        # only a kill in the instant between naming the finished file and the rename leaves one
        assert all(p.stat().st_size == 8_000_001 for p in stray), f"a partial temp file after a kill at {delay} s"
        kills += 1
        leftovers += len(stray)
        write_atomic(target, "next\n")  # the next writer removes what a dead one left
        assert sorted(p.name for p in tmp_path.iterdir()) == ["models.yaml"]
        target.write_text("old\n")
    assert kills == 6 and leftovers <= 1, f"{leftovers} of {kills} kills left a temp file"
