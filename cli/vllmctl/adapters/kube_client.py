"""Kubernetes API access: the standard kubeconfig resolution, one context for the client and helm.

Resolution order, as kubectl does it: KUBECONFIG (colon-separated list), else ~/.kube/config, else
in-cluster service-account credentials (when vllmctl runs as a Job). `--context` /
VLLM_KUBE_CONTEXT picks a context; helm gets the same file and context (adapters.helm).
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
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


@dataclass(frozen=True)
class Location:
    """Where helm is pointed, known without the client: helm can start reading a release on its own
    core while this one still imports the kubernetes package (about half a second)."""

    kubeconfig: str  # "" when in-cluster
    context: str  # "" for the kubeconfig's current context

    def describe(self) -> str:
        return f"(context {self.context!r})" if self.context else "(the kubeconfig's current context)"


def location(context: str = "") -> Location:
    """The kubeconfig and context `connect(context)` will use, as helm reads them."""
    return Location(_kubeconfig_path(), context)


def _kubeconfig_path() -> str:
    env = os.environ.get("KUBECONFIG", "")
    if env:
        return env
    default = Path.home() / ".kube" / "config"
    return str(default) if default.exists() else ""


def _context_names(kubeconfig: str) -> tuple[list[str], str]:
    """(every context name, the current one) of the kubeconfig; a file that is not one is one line."""
    import yaml
    from kubernetes import config
    from kubernetes.config.config_exception import ConfigException

    try:
        contexts, current = config.list_kube_config_contexts(config_file=kubeconfig)
        return [c["name"] for c in contexts], (current or {}).get("name", "")
    except ConfigException as e:
        raise InvalidInput(f"cannot use the kubeconfig {kubeconfig}: {str(e).rstrip('.')}.") from None
    except (yaml.YAMLError, UnicodeDecodeError, TypeError, AttributeError, KeyError, ValueError) as e:
        # The client's own errors for a file that is not YAML, or YAML that is not a kubeconfig.
        syntax = isinstance(e, yaml.YAMLError | UnicodeDecodeError)
        detail = str(e).splitlines()[0][:160] if syntax else "its contents are not a kubeconfig's"
        raise InvalidInput(f"{kubeconfig} is not a valid kubeconfig ({detail}).",
                           hint="Point KUBECONFIG at a kubeconfig file (kubectl config view shows yours).") from None


def _plugins_get_the_child_environment() -> None:
    """The kubeconfig's exec credential plugins (aws eks get-token, kubelogin, ...) that the client
    starts get the environment helm gets (core.child_env's allow-list, plus the kubeconfig's own
    `env` entries), not the CLI's with VLLM_HF_TOKEN, VLLM_API_KEY and VAULT_TOKEN in it: the
    client copies os.environ whole, and it has no setting for this."""
    from kubernetes.config import exec_provider

    from vllmctl.core.child_env import child_environment

    cls = exec_provider.ExecProvider
    if getattr(cls, "_vllmctl_child_env", False):
        return
    original = cls.__init__

    def __init__(self, exec_config, cwd, cluster=None):
        original(self, exec_config, cwd, cluster)
        own = {item["name"]: item["value"] for item in exec_config.safe_get("env") or []}
        self.env = child_environment(os.environ, **own)

    cls.__init__ = __init__  # type: ignore[method-assign]
    cls._vllmctl_child_env = True  # type: ignore[attr-defined]


def connect(context: str = "", *, check: bool = True) -> Cluster:
    """A client for `context` (or the current one); with check, fail fast when the server is unreachable."""
    from kubernetes import client, config
    from kubernetes.config.config_exception import ConfigException

    _plugins_get_the_child_environment()
    configuration = client.Configuration()
    kubeconfig = _kubeconfig_path()
    try:
        if kubeconfig:
            names, current = _context_names(kubeconfig)
            if context and context not in names:
                raise InvalidInput(f"no context {context!r} in the kubeconfig {kubeconfig}; it has: "
                                   f"{', '.join(names) or 'none'}.", hint="Pass one to --context (VLLM_KUBE_CONTEXT).")
            # The client reads KUBECONFIG once, at import; pass today's value (a list merges as kubectl does).
            config.load_kube_config(config_file=kubeconfig, context=context or None, client_configuration=configuration)
            context = context or current
        elif os.environ.get("KUBERNETES_SERVICE_HOST"):
            config.load_incluster_config(client_configuration=configuration)
        else:
            raise InvalidInput(
                "no Kubernetes credentials: set KUBECONFIG, create ~/.kube/config, or run inside a cluster."
            )
    except ConfigException as e:
        raise InvalidInput(f"cannot use the kubeconfig {kubeconfig or '(in-cluster)'}: {str(e).rstrip('.')}.") from None
    api_client = client.ApiClient(configuration)
    cluster = Cluster(api_client=api_client, context=context, server=configuration.host, kubeconfig=kubeconfig)
    if check:
        server_version(cluster)
    return cluster


class ApiStatus(Exception):
    """The API server answered, with an error status (404, 409, 403, ...)."""

    def __init__(self, status: int, reason: str, body: str = "") -> None:
        super().__init__(f"{status} {reason}")
        self.status, self.reason, self.body = status, reason, body


def request(cluster: Cluster, method: str, path: str, *, query: dict | None = None, body=None,
            content_type: str | None = None, timeout=REQUEST_TIMEOUT, stream: bool = False,
            accept: str = "application/json"):
    """The one way vllmctl calls the API: by path, through the client's configuration (auth, TLS,
    proxy) but without the generated API classes (kubernetes 37 builds pydantic validators for
    every method of e.g. CoreV1Api on import, about 0.4 s, more than a whole deploy's calls take).
    Returns the decoded JSON, or the streaming urllib3 response with `stream`. An error status is
    ApiStatus; a server that cannot be reached is Unreachable; anything else is a bug and propagates."""
    api = cluster.api_client
    headers = {"Accept": accept}
    if content_type:
        headers["Content-Type"] = content_type
    params = [(k, v) for k, v in (query or {}).items() if v is not None and v != ""]
    method, url, headers, body, _ = api.param_serialize(  # type: ignore[attr-defined]
        method=method, resource_path=path, query_params=params, header_params=headers, body=body,
        auth_settings=["BearerToken"],
    )
    with transport_errors(cluster):
        response = api.call_api(method, url, header_params=headers, body=body,  # type: ignore[attr-defined]
                                _request_timeout=timeout)
        if not 200 <= response.status <= 299:
            data = response.read()
            raise ApiStatus(response.status, str(response.reason),
                            data.decode(errors="replace") if isinstance(data, bytes) else str(data or ""))
        if stream:
            return response.response
        data = response.read()
    return json.loads(data) if data else {}


@contextlib.contextmanager
def transport_errors(cluster: Cluster) -> Iterator[None]:
    """A connection that fails (refused, reset, timed out, TLS) becomes Unreachable, naming the server."""
    import urllib3
    from kubernetes.client.exceptions import ApiException

    try:
        yield
    except (urllib3.exceptions.HTTPError, OSError) as e:
        raise _unreachable(cluster, getattr(e, "reason", None) or e) from None
    except ApiException as e:
        if e.status:  # the client's own status errors (retry-after) are answers, not transport
            raise ApiStatus(e.status, str(e.reason), str(e.body or "")) from None
        raise _unreachable(cluster, e.reason) from None  # status 0: the client's wrapping of a TLS failure


def _unreachable(cluster: Cluster, reason) -> Unreachable:
    return Unreachable(
        f"cannot reach the Kubernetes API server {cluster.describe()}: {_short(reason)}.",
        hint="Check the cluster is up and the kubeconfig context is right (--context / VLLM_KUBE_CONTEXT).",
    )


def server_version(cluster: Cluster) -> str:
    try:
        return str(request(cluster, "GET", "/version").get("gitVersion", ""))
    except ApiStatus as e:
        raise api_error(e, cluster, "read the Kubernetes API server's version") from None


def api_error(e: ApiStatus, cluster: Cluster, doing: str) -> VllmctlError:
    """One clear line for an API call the server refused, naming the server and context."""
    if e.status in (401, 403):
        return OperationFailed(
            f"could not {doing}: the API server {cluster.describe()} denied it ({e.status} {e.reason}).",
            hint="Check the credentials and RBAC of your kubeconfig user.",
        )
    return OperationFailed(f"could not {doing} on {cluster.describe()}: {e.status} {_api_message(e)}.")


def _api_message(e: ApiStatus) -> str:
    try:
        return json.loads(e.body).get("message", e.reason)
    except (TypeError, ValueError, AttributeError):
        return str(e.reason)


def _short(reason: object) -> str:
    text = str(reason)
    # urllib3 wraps the useful part ("Connection refused") in a long repr
    for marker in ("Connection refused", "Name or service not known", "timed out", "certificate verify failed"):
        if marker in text:
            return marker
    return text.splitlines()[0][:200]
