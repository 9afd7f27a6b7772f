"""Kubernetes API access: the standard kubeconfig resolution, one context for the client and helm.

Resolution order, as kubectl does it: KUBECONFIG (colon-separated list), else ~/.kube/config, else
in-cluster service-account credentials (when vllmctl runs as a Job). `--context` /
VLLM_KUBE_CONTEXT picks a context; helm gets the same file and context (adapters.helm).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from vllmctl.errors import InvalidInput, OperationFailed, Unreachable, VllmctlError

REQUEST_TIMEOUT = 10  # seconds, for single API calls; watches pass their own


@dataclass
class Cluster:
    api_client: object  # kubernetes.client.ApiClient
    context: str  # "" when in-cluster
    server: str
    kubeconfig: str  # "" when in-cluster

    def describe(self) -> str:
        where = f"context {self.context!r}" if self.context else "in-cluster credentials"
        return f"{self.server} ({where})"


def _kubeconfig_path() -> str:
    env = os.environ.get("KUBECONFIG", "")
    if env:
        return env
    default = Path.home() / ".kube" / "config"
    return str(default) if default.exists() else ""


def connect(context: str = "", *, check: bool = True) -> Cluster:
    """A client for `context` (or the current one); with check, fail fast when the server is unreachable."""
    from kubernetes import client, config
    from kubernetes.config.config_exception import ConfigException

    configuration = client.Configuration()
    kubeconfig = _kubeconfig_path()
    try:
        if kubeconfig:
            # The client reads KUBECONFIG once, at import; pass today's value (a list merges as kubectl does).
            config.load_kube_config(config_file=kubeconfig, context=context or None, client_configuration=configuration)
            if not context:
                context = config.list_kube_config_contexts(config_file=kubeconfig)[1]["name"]
        elif os.environ.get("KUBERNETES_SERVICE_HOST"):
            config.load_incluster_config(client_configuration=configuration)
        else:
            raise InvalidInput(
                "no Kubernetes credentials: set KUBECONFIG, create ~/.kube/config, or run inside a cluster."
            )
    except ConfigException as e:
        raise InvalidInput(f"cannot use the kubeconfig {kubeconfig or '(in-cluster)'}: {e}.") from None
    api_client = client.ApiClient(configuration)
    cluster = Cluster(api_client=api_client, context=context, server=configuration.host, kubeconfig=kubeconfig)
    if check:
        server_version(cluster)
    return cluster


def server_version(cluster: Cluster) -> str:
    from kubernetes import client

    try:
        info = client.VersionApi(cluster.api_client).get_code(_request_timeout=REQUEST_TIMEOUT)
    except Exception as e:  # noqa: BLE001 - every transport failure means the same to the user
        raise api_error(e, cluster, "reach the Kubernetes API server") from None
    return info.git_version


def api_error(e: Exception, cluster: Cluster, doing: str) -> VllmctlError:
    """One clear line for a failed API call, naming the server and context."""
    from kubernetes.client.exceptions import ApiException

    if isinstance(e, ApiException):
        if e.status in (401, 403):
            return OperationFailed(
                f"could not {doing}: the API server {cluster.describe()} denied it ({e.status} {e.reason}).",
                hint="Check the credentials and RBAC of your kubeconfig user.",
            )
        return OperationFailed(f"could not {doing} on {cluster.describe()}: {e.status} {_api_message(e)}.")
    reason = getattr(e, "reason", None) or e
    return Unreachable(
        f"cannot reach the Kubernetes API server {cluster.describe()}: {_short(reason)}.",
        hint="Check the cluster is up and the kubeconfig context is right (--context / VLLM_KUBE_CONTEXT).",
    )


def _api_message(e) -> str:
    import json

    try:
        return json.loads(e.body).get("message", e.reason)
    except (TypeError, ValueError, AttributeError):
        return str(e.reason)


def _short(reason) -> str:
    text = str(reason)
    # urllib3 wraps the useful part ("Connection refused") in a long repr
    for marker in ("Connection refused", "Name or service not known", "timed out", "certificate verify failed"):
        if marker in text:
            return marker
    return text.splitlines()[0][:200]
