"""ExternalSecret manifests and their readiness, as plain data (no cluster access here).

The manifest is core/render.py's own external-secret template (the one `render` writes to disk),
loaded as a dict, plus two things the CLI needs when it applies it itself:

* `app.kubernetes.io/managed-by: vllmctl` on the ExternalSecret;
* the Vault KV version it must sync, as an annotation of the target Secret's template. A new
  value in Vault then changes the ExternalSecret's spec, hence its generation, so the operator
  re-syncs at once (instead of at the next refreshInterval, up to 1 h later) and the CLI can tell
  a sync of the new value from the last sync of the old one.
"""

from __future__ import annotations

import re

from vllmctl.core.secret_layout import SecretLayout
from vllmctl.core.settings import Settings

GROUP = "external-secrets.io"
VERSION = "v1"
PLURAL = "externalsecrets"
STORE_PLURAL = "clustersecretstores"
MANAGED_BY = {"app.kubernetes.io/managed-by": "vllmctl"}
VAULT_VERSION_ANNOTATION = "vllmctl.io/vault-version"


def external_secret_manifest(settings: Settings, layout: SecretLayout, *, vault_version: int | None) -> dict:
    import yaml

    from vllmctl.core.render import external_secret_text  # the same manifest `render` writes out

    manifest = yaml.safe_load(external_secret_text(settings, layout))
    manifest["metadata"]["labels"] = dict(MANAGED_BY)
    if vault_version is not None:
        manifest["spec"]["target"]["template"] = {
            "metadata": {"annotations": {VAULT_VERSION_ANNOTATION: str(vault_version)}}
        }
    return manifest


def synced_generation(obj: dict) -> int | None:
    """The generation the operator last synced: status.syncedResourceVersion is "<generation>-<hash>"."""
    synced = str(((obj.get("status") or {}).get("syncedResourceVersion")) or "")
    match = re.match(r"^(\d+)-", synced)
    return int(match.group(1)) if match else None


def ready_condition(obj: dict) -> dict | None:
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return cond
    return None


def is_synced(obj: dict) -> bool:
    """Ready=True for the ExternalSecret's current spec (not a Ready left over from an older one)."""
    cond = ready_condition(obj)
    if not cond or cond.get("status") != "True":
        return False
    synced = synced_generation(obj)
    generation = (obj.get("metadata") or {}).get("generation")
    return synced is None or generation is None or synced >= int(generation)


def status_message(obj: dict) -> str:
    """The operator's own words on why it is not Ready, for the error line."""
    cond = ready_condition(obj)
    if cond is None:
        return "no Ready condition yet (is the External Secrets Operator running?)"
    parts = [p for p in (cond.get("reason"), cond.get("message")) if p]
    text = ": ".join(parts) if parts else f"Ready={cond.get('status')}"
    if cond.get("status") == "True":
        text += " (but not yet for the latest change)"
    return text
