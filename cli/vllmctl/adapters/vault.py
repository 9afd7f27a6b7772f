"""Vault (or OpenBao) KV v2 through hvac: read, write and delete one field of one path.

The token travels only in hvac's request header. Every failure becomes one line naming the
address and path, never a value: unreachable, sealed, permission denied, mount missing or not
KV v2, path absent. The mount is checked before the first write, because a KV v2 write sent to a
KV v1 mount would "succeed" at the wrong path (data/vllm/...).
"""

from __future__ import annotations

import os
from pathlib import Path

from vllmctl.errors import InvalidInput, OperationFailed, Unreachable, VaultPathAbsent, VllmctlError

__all__ = ["Vault", "VaultPathAbsent", "token_from_environment"]

REQUEST_TIMEOUT = 10  # seconds per Vault call


def token_from_environment() -> str | None:
    """VAULT_TOKEN, else ~/.vault-token (what `vault login` / `bao login` leave), else None."""
    token = os.environ.get("VAULT_TOKEN", "").strip()
    if token:
        return token
    try:
        token = (Path.home() / ".vault-token").read_text(encoding="utf-8").strip()
    except (FileNotFoundError, IsADirectoryError, PermissionError):
        return None
    return token or None


class Vault:
    def __init__(self, addr: str, token: str, mount: str = "secret", *, timeout: float = REQUEST_TIMEOUT):
        import hvac  # heavy: only when Vault is actually used

        self.addr = addr.rstrip("/")
        self.mount = mount.strip("/")
        self._client = hvac.Client(url=self.addr, token=token, timeout=timeout)
        self._checked = False

    def __repr__(self) -> str:  # never show the token
        return f"Vault({self.addr!r}, mount={self.mount!r})"

    def where(self, path: str) -> str:
        return f"{self.mount}/{path} in Vault at {self.addr}"

    # -- operations

    def read(self, path: str, field: str) -> tuple[str, int]:
        """(value, KV version) of `field` at `path`; VaultPathAbsent when there is none."""
        self.check_mount(path)
        data = self._call(path, "read", lambda: self._client.secrets.kv.v2.read_secret_version(
            path=path, mount_point=self.mount, raise_on_deleted_version=True))
        if data is None:
            raise VaultPathAbsent(f"nothing is stored at {self.where(path)}.")
        value = ((data.get("data") or {}).get("data") or {}).get(field)
        if not isinstance(value, str) or not value:
            raise VaultPathAbsent(f"{self.where(path)} has no field {field!r}.")
        return value, int(((data.get("data") or {}).get("metadata") or {}).get("version") or 0)

    def read_optional(self, path: str, field: str) -> tuple[str, int] | None:
        try:
            return self.read(path, field)
        except VaultPathAbsent:
            return None

    def write(self, path: str, field: str, value: str) -> int:
        """Store {field: value} at path (a new KV version); returns the version number."""
        self.check_mount(path)
        result = self._call(path, "write", lambda: self._client.secrets.kv.v2.create_or_update_secret(
            path=path, secret={field: value}, mount_point=self.mount))
        return int(((result or {}).get("data") or {}).get("version") or 0)

    def write_if_changed(self, path: str, field: str, value: str) -> tuple[int, bool]:
        """(version, changed): no new version when the field already holds `value`, so repeated
        installs with the same VLLM_HF_TOKEN do not churn Vault versions and ExternalSecrets."""
        try:
            current = self.read_optional(path, field)
        except OperationFailed:  # a token that may write but not read: just write
            current = None
        if current is not None and current[0] == value:
            return current[1], False
        return self.write(path, field, value), True

    def delete(self, path: str) -> bool:
        """Delete every version and the metadata; False when there was nothing."""
        self.check_mount(path)
        existed = self._call(path, "read", lambda: self._client.secrets.kv.v2.read_secret_metadata(
            path=path, mount_point=self.mount)) is not None
        if existed:
            self._call(path, "delete", lambda: self._client.secrets.kv.v2.delete_metadata_and_all_versions(
                path=path, mount_point=self.mount))
        return existed

    # -- checks

    def check_mount(self, path: str) -> None:
        """The mount exists and is KV version 2 (asked once per client)."""
        if self._checked:
            return
        import hvac.exceptions

        try:
            # Readable by any token with some capability on the path; 403 means no mount or no rights.
            info = self._client.adapter.get(f"/v1/sys/internal/ui/mounts/{self.mount}/{path}")
        except hvac.exceptions.Forbidden:
            info = None
        except Exception as e:  # noqa: BLE001 - mapped to one line below
            raise self._error(e, path, "check the mount of") from None
        if info is None:
            self._probe_missing_mount(path)
        else:
            data = (info.get("data") if isinstance(info, dict) else None) or {}
            kind = data.get("type")
            version = str((data.get("options") or {}).get("version") or "1")
            if kind not in ("kv", "generic") or version != "2":
                what = f"KV version {version}" if kind in ("kv", "generic") else f"a {kind!r} engine"
                raise InvalidInput(
                    f"the Vault mount {self.mount!r} at {self.addr} is {what}, not KV version 2.",
                    hint=f"Enable KV v2 there (vault secrets enable -path={self.mount} kv-v2) "
                    "or point VLLM_VAULT_MOUNT at a KV v2 mount.",
                )
        self._checked = True

    def probe(self, *, with_token: bool, path: str) -> str:
        """What check-prerequisites can truly say: reachable and unsealed (no token needed), then with a
        token that it is accepted and the mount holding `path` is KV v2. One-line errors otherwise."""
        health = self._call(path, "reach", lambda: self._client.sys.read_health_status(method="GET"))
        health = health if isinstance(health, dict) else {}
        if health.get("sealed"):
            raise OperationFailed(f"Vault at {self.addr} is sealed.", hint="Unseal it (vault operator unseal).")
        said = f"{self.addr}: {'version ' + health['version'] if health.get('version') else 'reachable'}, unsealed"
        if not with_token:
            return f"{said}; no token to check (VAULT_TOKEN or ~/.vault-token; secret commands ask for one)"
        self._call(path, "check the token for", lambda: self._client.auth.token.lookup_self())
        self.check_mount(path)
        return f"{said}, token accepted, {self.mount}/ is KV v2"

    def _probe_missing_mount(self, path: str) -> None:
        """No mount info: a read tells a missing mount ("no handler for route") from denied access."""
        import hvac.exceptions

        try:
            self._client.secrets.kv.v2.read_secret_version(
                path=path, mount_point=self.mount, raise_on_deleted_version=True)
        except hvac.exceptions.InvalidPath as e:
            if "no handler for route" in str(e):
                raise self._missing_mount() from None
        except Exception as e:  # noqa: BLE001
            raise self._error(e, path, "read") from None

    def _missing_mount(self) -> VllmctlError:
        return InvalidInput(
            f"there is no secrets engine mounted at {self.mount!r} in Vault at {self.addr}.",
            hint=f"Enable KV v2 (vault secrets enable -path={self.mount} kv-v2) or set VLLM_VAULT_MOUNT.",
        )

    def _call(self, path: str, doing: str, fn):
        """Run one hvac call; None for a path that holds nothing; one-line errors for the rest."""
        import hvac.exceptions

        try:
            return fn()
        except hvac.exceptions.InvalidPath as e:
            if "no handler for route" in str(e):
                raise self._missing_mount() from None
            return None
        except Exception as e:  # noqa: BLE001 - mapped to one line
            raise self._error(e, path, doing) from None

    def _error(self, e: Exception, path: str, doing: str) -> VllmctlError:
        import hvac.exceptions
        import requests

        where = self.where(path)
        if isinstance(e, hvac.exceptions.VaultDown):
            return OperationFailed(f"Vault at {self.addr} is sealed; cannot {doing} {self.mount}/{path}.",
                                   hint="Unseal it (vault operator unseal) and run again.")
        if isinstance(e, hvac.exceptions.Forbidden | hvac.exceptions.Unauthorized):
            return OperationFailed(
                f"Vault at {self.addr} denied permission to {doing} {self.mount}/{path}.",
                hint=f"Use a token (VAULT_TOKEN or ~/.vault-token) whose policy allows {doing} on "
                f"{self.mount}/data/{path} and {self.mount}/metadata/{path}.",
            )
        if isinstance(e, requests.exceptions.ConnectionError | requests.exceptions.Timeout):
            reason = "timed out" if isinstance(e, requests.exceptions.Timeout) else "connection refused"
            text = str(e)
            if "Name or service not known" in text or "nodename nor servname" in text:
                reason = "unknown host"
            return Unreachable(f"cannot reach Vault at {self.addr} ({reason}).",
                               hint="Check VAULT_ADDR and that Vault is running.")
        if isinstance(e, hvac.exceptions.VaultError):
            first = str(e).split(", on ")[0].strip().splitlines()[0:1]
            return OperationFailed(f"Vault could not {doing} {where}: {first[0] if first else type(e).__name__}.")
        if isinstance(e, requests.exceptions.RequestException):
            return Unreachable(f"cannot talk to Vault at {self.addr} ({type(e).__name__}).",
                               hint="Check VAULT_ADDR (http:// or https://) and the network.")
        return OperationFailed(f"Vault could not {doing} {where}: {type(e).__name__}.")
