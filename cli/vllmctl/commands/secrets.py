"""Hugging Face token and API key: Vault, ExternalSecrets or plain Secrets."""

from __future__ import annotations

import typer

from vllmctl.commands.pending import register_pending


def register(app: typer.Typer) -> None:
    names = {}
    for kind, title in (("hf-token", "Hugging Face token"), ("api-key", "API key")):
        names[f"set-{kind}"] = f"Store the {title} in Vault (or a Secret)"
        names[f"get-{kind}"] = f"Print the {title}"
        names[f"delete-{kind}"] = f"Delete the {title} from Vault and the cluster"
        names[f"create-{kind}-secret"] = f"Create the {title} Secret (ExternalSecret or plain Secret)"
        names[f"delete-{kind}-secret"] = f"Delete the {title} Secret and ExternalSecret"
    register_pending(app, names)
