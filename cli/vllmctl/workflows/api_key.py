"""Which API key to send to the endpoint: VLLM_API_KEY, else the Kubernetes Secret, else Vault.

The Secret (`vllm-api-key`, key `api-key`) is what the engines enforce, so it is read before Vault
(`vllm/api-key`, field `api-key`), which may hold a newer value not yet synced. A source that cannot
be read (no kubeconfig, RBAC, Vault not configured) is skipped: the request then goes without a
key and a 401 says how to get one. The value is returned, never logged.

The two readers below are small stand-ins until the secrets adapters (adapters/vault.py,
adapters/kube_secrets.py) land; swap them in here and nothing else changes.
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
    import base64

    try:
        if cluster is None:
            from vllmctl.adapters.kube_client import connect

            cluster = connect(settings.kube_context, check=False)
        from kubernetes import client

        secret = client.CoreV1Api(cluster.api_client).read_namespaced_secret(
            API_KEY.secret_name, settings.namespace, _request_timeout=READ_TIMEOUT
        )
        raw = (secret.data or {}).get(API_KEY.secret_key)
        if not raw:
            return None
        return base64.b64decode(raw).decode().strip() or None
    except Exception:  # noqa: BLE001 - any failure (VllmctlError included) means "not from here"
        return None


def _from_vault(settings: Settings) -> str | None:
    if not settings.vault_addr:
        return None
    token = os.environ.get("VAULT_TOKEN", "")
    if not token:
        try:
            with open(os.path.expanduser("~/.vault-token"), encoding="utf-8") as handle:
                token = handle.read().strip()
        except OSError:
            return None
    try:
        import hvac

        vault = hvac.Client(url=settings.vault_addr, token=token, timeout=READ_TIMEOUT)
        answer = vault.secrets.kv.v2.read_secret_version(
            path=API_KEY.vault_path, mount_point=settings.vault_mount, raise_on_deleted_version=True
        )
        return str(answer["data"]["data"].get(API_KEY.vault_field) or "").strip() or None
    except Exception:  # noqa: BLE001 - any failure means "not from here"
        return None
