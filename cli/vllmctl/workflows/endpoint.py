"""How the OpenAI-compatible endpoint is reached: --url / VLLM_URL, else a port-forward to the router.

An ingress or an existing `vllmctl port-forward` is used as given. Otherwise the tool opens its own
port-forward to the router Service `<release>-router-service` port 80 through the Kubernetes API and
closes it when the command ends.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from vllmctl.core.settings import Settings
from vllmctl.errors import InvalidInput

ROUTER_PORT = 80


def router_service(settings: Settings) -> str:
    return f"{settings.release}-router-service"


@contextmanager
def open_endpoint(settings: Settings, cluster=None) -> Iterator[str]:
    """Yields the base URL (no trailing /v1) for the duration of the block."""
    from vllmctl.adapters.openai_http import normalize_base_url

    if settings.url:
        yield normalize_base_url(settings.url)
        return
    if not settings.router_enabled:
        raise InvalidInput(
            "the router is disabled (VLLM_ROUTER_ENABLED=false), so there is nothing to port-forward to: "
            "pass --url / VLLM_URL with an engine's or ingress's address."
        )
    from vllmctl.adapters.kube_client import connect
    from vllmctl.adapters.port_forward import forward

    cluster = cluster or connect(settings.kube_context)
    with forward(cluster, settings.namespace, f"service/{router_service(settings)}", ROUTER_PORT) as url:
        yield normalize_base_url(url)
