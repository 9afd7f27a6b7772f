"""How the OpenAI-compatible endpoint is reached: --url / VLLM_URL, else a port-forward to the router.

An ingress or an existing `vllmctl port-forward` is used as given. Otherwise the tool opens its own
port-forward to the router Service `<release>-router-service` port 80 through the Kubernetes API and
closes it when the command ends.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextlib import contextmanager

from vllmctl.core.settings import Settings
from vllmctl.errors import InvalidInput, VllmctlError

ROUTER_PORT = 80
URL_HINT = "With an ingress or a `vllmctl port-forward` already running, pass --url / VLLM_URL instead."


def router_service(settings: Settings) -> str:
    return f"{settings.release}-router-service"


@contextmanager
def forward_router(settings: Settings, local_port: int = 0) -> Iterator[str]:
    """http://127.0.0.1:PORT reaching the router Service while the block runs (`port-forward`)."""
    from vllmctl.adapters.kube_client import connect
    from vllmctl.adapters.port_forward import forward

    service = f"service/{router_service(settings)}"
    with forward(connect(settings.kube_context), settings.namespace, service, ROUTER_PORT, local_port) as url:
        yield url


@contextmanager
def open_endpoint(settings: Settings) -> Iterator[str]:
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
    with contextlib.ExitStack() as stack:
        try:
            url = stack.enter_context(forward_router(settings))
        except VllmctlError as e:
            e.hint = (f"{e.hint} " if e.hint else "") + URL_HINT
            raise
        yield normalize_base_url(url)
