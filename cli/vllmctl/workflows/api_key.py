"""Which API key to send to the endpoint: VLLM_API_KEY, else the Kubernetes Secret, else Vault.

The Secret (`vllm-api-key`, key `api-key`) is what the engines enforce, so it is read before Vault
(`vllm/api-key`, field `api-key`), which may hold a newer value not yet synced. A source that cannot
be read (no kubeconfig, RBAC, Vault not configured) is skipped: the request then goes without a
key and a 401 says how to get one. The value is returned, never logged.

Reads go through the secrets adapters (adapters/kube_secrets.py, adapters/vault.py).
"""

from __future__ import annotations

import os

from vllmctl.core.secret_layout import API_KEY
from vllmctl.core.settings import Settings

READ_TIMEOUT = 5  # seconds: a missing source must not stall a one-shot request


def resolve_api_key(settings: Settings, cluster=None) -> str | None:
    value = os.environ.get(API_KEY.env_var, "").strip()
    if value:
        return value
    if not settings.api_key_enabled:
        return None
    return _from_secret(settings, cluster) or _from_vault(settings)


def _from_secret(settings: Settings, cluster) -> str | None:
    try:
        if cluster is None:
            from vllmctl.adapters.kube_client import connect

            cluster = connect(settings.kube_context, check=False)
        from vllmctl.adapters.kube_secrets import KubeSecrets

        value = KubeSecrets(cluster).read_secret_value(settings.namespace, API_KEY.secret_name, API_KEY.secret_key)
    except Exception:  # noqa: BLE001 - any failure (no kubeconfig, RBAC, unreachable) means "not from here"
        return None
    return (value or "").strip() or None


def _from_vault(settings: Settings) -> str | None:
    from vllmctl.adapters.vault import Vault, token_from_environment

    token = token_from_environment() if settings.vault_addr else None
    if not token:
        return None
    try:
        found = Vault(settings.vault_addr, token, settings.vault_mount, timeout=READ_TIMEOUT).read_optional(
            API_KEY.vault_path, API_KEY.vault_field
        )
    except Exception:  # noqa: BLE001 - any failure (sealed, denied, unreachable) means "not from here"
        return None
    return (found[0].strip() or None) if found else None
