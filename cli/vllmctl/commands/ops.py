"""Day-two commands: status, endpoints, logs, port-forward, namespace and helm repo housekeeping."""

from __future__ import annotations

import typer

from vllmctl.commands.pending import register_pending


def register(app: typer.Typer) -> None:
    register_pending(app, {
        "status": "Pods per model: ready, restarts, age, node, GPUs",
        "endpoints": "Show the router and engine endpoints",
        "logs": "Show a model's engine logs",
        "router-logs": "Show the router's logs",
        "port-forward": "Forward a local port to the router Service",
        "create-namespace": "Create the namespace with Pod Security labels",
        "delete-namespace": "Delete the namespace",
        "check-prerequisites": "Check models.yaml, cluster access, helm and Vault",
        "add-helm-repo": "Add the vllm-stack Helm repository for manual helm use",
        "remove-helm-repo": "Remove the vllm-stack Helm repository entry",
    })
