"""Requests to the deployed stack: one completion, the served model list, and the smoke test.

The model id sent is the models.yaml `name` (rendering passes it to the engine as
--served-model-name), or a LoRA adapter's `name` (the id its LoraAdapter loads it under; vLLM lists
it with `parent` = its base model). `smoke(settings, endpoint)` is also what `install --smoke` calls.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from vllmctl.adapters.openai_http import DEFAULT_TIMEOUT, Completion, Endpoint, ModelNotFound
from vllmctl.core.settings import Settings
from vllmctl.errors import InvalidInput, OperationFailed, VllmctlError
from vllmctl.workflows.api_key import resolve_api_key

SMOKE_PROMPT = "Say hello."
SMOKE_MAX_TOKENS = 8
_UNSET = object()


def configured_models(settings: Settings) -> list[str] | None:
    """Names of the enabled models in models.yaml; None when there is no models file."""
    from vllmctl.workflows.models import peek

    if not settings.models_path.exists():
        return None
    return [str(m["name"]) for m in peek(settings) if m.get("enabled") and m.get("name")]


def configured_adapters(settings: Settings) -> dict[str, str]:
    """LoRA adapter name -> its base model, for the enabled models of models.yaml ({} without one)."""
    from vllmctl.workflows.models import peek

    if not settings.models_path.exists():
        return {}
    out: dict[str, str] = {}
    for m in peek(settings):
        lora = m.get("lora") if m.get("enabled") and m.get("name") else None
        for adapter in (lora.get("adapters") if isinstance(lora, dict) else None) or []:
            if isinstance(adapter, dict) and adapter.get("name"):
                out.setdefault(str(adapter["name"]), str(m["name"]))
    return out


def _not_served(e: ModelNotFound, endpoint: Endpoint) -> OperationFailed:
    try:
        served = endpoint.models()
    except VllmctlError:
        return e
    return OperationFailed(
        f"{e.message} It serves: {', '.join(served) or 'no models'}.",
        hint="The model id is the models.yaml name, or a LoRA adapter's name; after editing models.yaml run "
             "`vllmctl upgrade`.",
    )


def send_completion(settings: Settings, base_url: str, model: str, prompt: str, *, chat: bool = False,
                    stream: bool = False, max_tokens: int = 64, temperature: float | None = None,
                    timeout: float = DEFAULT_TIMEOUT, on_text: Callable[[str], None] | None = None,
                    api_key=_UNSET) -> Completion:
    key = resolve_api_key(settings) if api_key is _UNSET else api_key
    with Endpoint(base_url, key, timeout) as endpoint:
        try:
            if stream:
                return endpoint.stream(model, prompt, chat=chat, max_tokens=max_tokens, temperature=temperature,
                                       on_text=on_text or (lambda _: None))
            return endpoint.complete(model, prompt, chat=chat, max_tokens=max_tokens, temperature=temperature)
        except ModelNotFound as e:
            raise _not_served(e, endpoint) from None


def mark_models(served: dict[str, str | None], configured: list[str] | None,
                adapters: dict[str, str] | None = None) -> list[dict]:
    """ok: served and configured; missing: configured but not served; unexpected: served, not configured
    (a LoRA adapter also when it is served on another base model than models.yaml gives it). A LoRA
    adapter's row names its base model as `parent`. `served`: id -> parent (Endpoint.listing);
    `adapters`: configured adapter -> base model."""
    adapters = adapters or {}

    def row(model: str, parent: str | None, status: str) -> dict:
        return {"id": model, **({"parent": parent} if parent else {}), "status": status}

    if configured is None:
        return [row(m, parent, "served") for m, parent in served.items()]
    rows = [row(m, parent, "ok" if (m in configured if parent is None else adapters.get(m) == parent)
                else "unexpected") for m, parent in served.items()]
    expected = [(m, None) for m in configured] + list(adapters.items())
    return rows + [row(m, parent, "missing") for m, parent in expected if m not in served]


def api_models(settings: Settings, base_url: str, *, timeout: float = DEFAULT_TIMEOUT) -> list[dict]:
    with Endpoint(base_url, resolve_api_key(settings), timeout) as endpoint:
        served = endpoint.listing()
    return mark_models(served, configured_models(settings), configured_adapters(settings))


@dataclass
class SmokeResult:
    model: str
    served: bool
    completion_ms: float | None = None
    chat_ms: float | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def as_dict(self) -> dict:
        return {"model": self.model, "ok": self.ok, "served": self.served, "completion_ms": self.completion_ms,
                "chat_ms": self.chat_ms, "error": self.error}


def smoke(settings: Settings, endpoint: str, *, api_key=_UNSET, cluster=None, timeout: float = DEFAULT_TIMEOUT,
          models: list[str] | None = None) -> list[SmokeResult]:
    """Every enabled model (or `models`) is listed by /v1/models and answers one short completion
    and one chat request. A failing model is a result, not an exception; an unreachable endpoint
    or a refused key raises, since then no model can be judged. `cluster` (optional) is reused to
    read the API key Secret."""
    names = models if models is not None else (configured_models(settings) or [])
    key = resolve_api_key(settings, cluster) if api_key is _UNSET else api_key
    results = []
    with Endpoint(endpoint, key, timeout) as client:
        served = client.models()
        for name in names:
            result = SmokeResult(name, name in served)
            if not result.served:
                result.error = f"not served (the endpoint serves: {', '.join(served) or 'no models'})"
                results.append(result)
                continue
            try:
                answer = client.complete(name, SMOKE_PROMPT, max_tokens=SMOKE_MAX_TOKENS, temperature=0)
                result.completion_ms = answer.latency * 1000
                answer = client.complete(name, SMOKE_PROMPT, chat=True, max_tokens=SMOKE_MAX_TOKENS, temperature=0)
                result.chat_ms = answer.latency * 1000
            except VllmctlError as e:
                result.error = e.message
            results.append(result)
    return results


def smoke_models(settings: Settings, *, timeout: float, models: list[str] | None = None) -> list[SmokeResult]:
    """`smoke` (and `install --smoke`): every named (default: enabled) model, through the endpoint of
    `settings` (--url, else a port-forward to the router)."""
    from vllmctl.workflows.endpoint import open_endpoint

    names = models or configured_models(settings)
    if not names:
        raise InvalidInput(f"no enabled models in {settings.models_file} to check; pass model names.")
    with open_endpoint(settings) as base:
        return smoke(settings, base, timeout=timeout, models=names)


def raise_if_smoke_failed(results: list[SmokeResult]) -> None:
    failed = [r for r in results if not r.ok]
    if failed:
        raise OperationFailed(f"smoke test: {len(failed)} of {len(results)} models failed "
                              f"({', '.join(r.model for r in failed)}).")
