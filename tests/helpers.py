"""Running the real CLI in tests: a child process, as users and CI run it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def cli_env(extra: dict[str, str] | None = None, *, keep_vllm: bool = False) -> dict[str, str]:
    """The parent environment minus VLLM_* / VAULT_* / KUBECONFIG (so the developer's own settings
    never leak into a test), plus `extra`."""
    env = {
        k: v for k, v in os.environ.items()
        if keep_vllm or not (k.startswith(("VLLM_", "VAULT_")) or k in ("KUBECONFIG", "HF_ENDPOINT", "CI"))
    }
    env["PYTHONPATH"] = str(REPO / "cli") + os.pathsep + env.get("PYTHONPATH", "")
    # validate and plan ask the Hub for model facts: never the real one from a test (port 9 refuses)
    env["HF_ENDPOINT"] = "http://127.0.0.1:9"
    env.update(extra or {})
    return env


def run_cli(
    *args: str,
    cwd: Path | str | None = None,
    env: dict[str, str] | None = None,
    input: str | None = None,
    timeout: float = 120,
) -> Result:
    """`vllmctl ARGS` in a child process with no TTY (so it never prompts)."""
    proc = subprocess.run(
        [sys.executable, "-m", "vllmctl.main", *args],
        cwd=cwd,
        env=cli_env(env),
        input=input if input is not None else "",
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


def wait_for(predicate, timeout=30.0, interval=0.1, what="condition"):
    """The predicate's first truthy value, polling until `timeout` seconds have passed."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


def vendor_chart(directory: Path, real_chart, version: str | None = None) -> Path:
    """What `vllmctl chart pull` leaves: the real chart (default: the default chart version) in
    `directory/charts/`, where render, validate and the deploy commands find it offline."""
    import shutil

    from vllmctl.core.settings import Settings

    version = version or Settings().chart_version
    target = directory / "charts" / f"vllm-stack-{version}.tgz"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(real_chart(version), target)
    return target
