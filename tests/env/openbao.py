"""OpenBao dev servers (`bao server -dev`): the real Vault HTTP API, KV v2 mounted at `secret/`."""

from __future__ import annotations

import secrets
import tempfile
import urllib.request
from pathlib import Path

from .ports import free_port_pair
from .procs import Proc, bao_binary, wait_until


class VaultServer:
    """Attributes: addr, token, unseal_key, log_file. Methods: start() (also restarts a stopped
    server: a dev server comes back EMPTY, same token, new port), stop(), running, client(),
    env(), seal(), unseal()."""

    def __init__(self, workdir: str | Path | None = None, name: str = "openbao"):
        self.binary = bao_binary()
        self.dir = Path(workdir or tempfile.mkdtemp(prefix="vllmctl-bao-"))
        self.dir.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.log_file = str(self.dir / f"{name}.log")
        self.token = secrets.token_hex(16)
        self.port = 0
        self.addr = ""
        self.proc: Proc | None = None
        self.unseal_key: str | None = None

    def start(self) -> VaultServer:
        """Start (or restart: a dev server starts empty, with the same root token)."""
        if self.proc is not None and self.proc.alive():
            return self
        self.port = free_port_pair()
        self.addr = f"http://127.0.0.1:{self.port}"
        self.proc = Proc(
            self.name,
            [self.binary, "server", "-dev", f"-dev-listen-address=127.0.0.1:{self.port}",
             f"-dev-root-token-id={self.token}"],
            Path(self.log_file),
            env={"HOME": str(self.dir), "BAO_ADDR": self.addr, "VAULT_ADDR": self.addr},
        )

        def healthy():
            with urllib.request.urlopen(f"{self.addr}/v1/sys/health", timeout=1) as r:
                return r.status == 200

        try:
            wait_until(healthy, 30, 0.05, f"OpenBao {self.addr}/v1/sys/health", procs=[self.proc])
            self.unseal_key = wait_until(self._read_unseal_key, 10, 0.05, "OpenBao unseal key in its log")
        except BaseException:
            self.stop()
            raise
        return self

    def _read_unseal_key(self) -> str | None:
        for line in Path(self.log_file).read_text(errors="replace").splitlines()[::-1]:
            if line.strip().startswith("Unseal Key:"):
                return line.split(":", 1)[1].strip()
        return None

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.stop()

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.alive()

    def client(self, token: str | None = None):
        import hvac

        return hvac.Client(url=self.addr, token=token or self.token)

    def env(self) -> dict[str, str]:
        return {"VAULT_ADDR": self.addr, "VAULT_TOKEN": self.token}

    def seal(self) -> None:
        self.client().sys.seal()

    def unseal(self) -> None:
        self.client().sys.submit_unseal_key(self.unseal_key)
