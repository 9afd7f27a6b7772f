"""Flags shared by several commands. Each names its environment variable in --help."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer


class Output(StrEnum):
    text = "text"
    json = "json"


def _remember_output(value: Output) -> Output:
    # So a failure, too, prints a JSON document on stdout (commands/app.py) when json was asked for.
    from vllmctl import console

    console.set_json_output(value is Output.json)
    return value


OutputOpt = Annotated[
    Output, typer.Option("--output", "-o", help="text for people, json for machines", callback=_remember_output)
]
ModelsFileOpt = Annotated[
    str | None,
    typer.Option("--models-file", "-f", envvar="VLLM_MODELS_FILE", help="the models file [default: models.yaml]"),
]
NamespaceOpt = Annotated[
    str | None, typer.Option("--namespace", "-n", envvar="VLLM_NAMESPACE", help="namespace [default: vllm]")
]
ReleaseOpt = Annotated[
    str | None, typer.Option("--release", envvar="VLLM_RELEASE", help="Helm release [default: vllm]")
]
ChartVersionOpt = Annotated[
    str | None,
    typer.Option("--chart-version", envvar="VLLM_CHART_VERSION", help="vllm-stack chart version [default: 0.1.12]"),
]
ChartOpt = Annotated[
    str | None,
    typer.Option(
        "--chart", envvar="VLLM_CHART", help="a chart directory, .tgz or oci:// reference instead of repo+version"
    ),
]
ContextOpt = Annotated[
    str | None, typer.Option("--context", envvar="VLLM_KUBE_CONTEXT", help="kubeconfig context [default: current]")
]
TimeoutOpt = Annotated[
    str | None, typer.Option("--timeout", envvar="VLLM_HELM_TIMEOUT", help="rollout timeout, e.g. 30m [default: 30m]")
]
UrlOpt = Annotated[
    str | None,
    typer.Option("--url", envvar="VLLM_URL", help="endpoint URL [default: a port-forward to the router]"),
]
OfflineOpt = Annotated[
    bool | None,
    typer.Option("--offline/--online", envvar="VLLM_OFFLINE",
                 help="model facts from the cache only, never the Hugging Face Hub [default: online]"),
]
YesOpt = Annotated[
    bool, typer.Option("--yes", "-y", help="never prompt; a missing answer is an error (also when CI=true)")
]
ApiKeyOpt = Annotated[
    bool | None,
    typer.Option(
        "--api-key/--no-api-key",
        envvar="VLLM_API_KEY_ENABLED",
        help="protect the endpoint with the vllm-api-key Secret [default: yes; an existing release keeps its choice]",
    ),
]


def settings_from(**flags):
    """Settings from the environment with these flag values (None = not given) on top."""
    import os

    from vllmctl.core.settings import load_settings

    return load_settings(os.environ, flags)
