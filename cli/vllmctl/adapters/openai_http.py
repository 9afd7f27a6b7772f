"""The OpenAI-compatible endpoint (router or engine) over HTTP, with httpx.

Sync calls for one-shot requests (test-completions, list-api-models, smoke); an async client plus
`timed_stream` for bench, which records arrival timestamps only and leaves all arithmetic to
core.bench_stats. Bodies are always built as data and serialised by httpx (a prompt is never
spliced into JSON text); the API key travels only in the Authorization header and never appears in
a message. httpx is imported inside the functions, so `vllmctl --help` stays fast.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from vllmctl.errors import OperationFailed, Unreachable

DEFAULT_TIMEOUT = 60.0  # seconds: a first request can wait for a cold engine
CONNECT_TIMEOUT = 10.0

STATUS_HINT = (
    "Check the router with `vllmctl status`, or open it with `vllmctl port-forward` and pass --url / VLLM_URL."
)
KEY_HINT = "Get the key with `vllmctl get-api-key` and export VLLM_API_KEY, or check the Secret vllm-api-key."


class ModelNotFound(OperationFailed):
    """The endpoint does not serve the requested model (the caller lists what it serves)."""

    def __init__(self, message: str, model: str) -> None:
        super().__init__(message)
        self.model = model


@dataclass
class Completion:
    model: str
    text: str
    latency: float  # seconds, request sent -> last byte
    ttft: float | None  # seconds to the first token, when streamed
    usage: dict | None
    finish_reason: str | None


def display_url(url: str) -> str:
    """The URL without user:password@ (a URL may carry credentials; messages must not)."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    host, slash, path = rest.partition("/")
    return f"{scheme}://{host.rpartition('@')[2]}{slash}{path}"


def normalize_base_url(url: str) -> str:
    """Accept `http://host`, `http://host/` and the OpenAI-style `http://host/v1`."""
    url = url.strip().rstrip("/")
    if "://" not in url:
        url = "http://" + url
    return url[: -len("/v1")] if url.endswith("/v1") else url


def _headers(api_key: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key}"} if api_key else {}


def completion_body(model: str, prompt: str, *, chat: bool, max_tokens: int, temperature: float | None,
                    stream: bool) -> dict[str, Any]:
    body: dict[str, Any] = {"model": model, "max_tokens": max_tokens}
    if chat:
        body["messages"] = [{"role": "user", "content": prompt}]
    else:
        body["prompt"] = prompt
    if temperature is not None:
        body["temperature"] = temperature
    if stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return body


def server_message(raw: bytes | str) -> str:
    """The server's own words from an error body: OpenAI/vLLM {"error": {"message"}}, vLLM's older
    {"message"}, the router's {"error": "..."} or FastAPI's {"detail"}; else the text itself."""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    try:
        body = json.loads(text)
    except ValueError:
        return " ".join(text.split())[:300] or "(empty body)"
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])[:300]
        for value in (error, body.get("message"), body.get("detail")):
            if value:
                return str(value)[:300]
    return text[:300]


def http_error(status: int, raw: bytes | str, url: str, model: str | None = None, *,
               key_sent: bool = True) -> OperationFailed:
    """One clear line for an HTTP error answer."""
    where = display_url(url)
    message = server_message(raw)
    if status in (401, 403):
        why = (
            "the API key was refused" if key_sent
            else "no API key was sent (none in VLLM_API_KEY, the Secret vllm-api-key or Vault)"
        )
        return OperationFailed(f"{where} refused the request ({status}): {why}.", hint=KEY_HINT)
    not_found = status == 404 or (status == 400 and "not found" in message.lower())
    if model is not None and not_found:
        return ModelNotFound(f"{where} does not serve the model {model!r} ({status}: {message}).", model)
    if status >= 500:
        return OperationFailed(f"{where} failed ({status}): {message}.", hint="See `vllmctl logs` for the engine side.")
    return OperationFailed(f"{where} rejected the request ({status}): {message}.")


def transport_error(e: Exception, url: str, timeout: float) -> Exception:
    import httpx

    where = display_url(url)
    if isinstance(e, httpx.ConnectTimeout):
        return Unreachable(f"cannot connect to {where}: no answer within {CONNECT_TIMEOUT:g}s.", hint=STATUS_HINT)
    if isinstance(e, httpx.TimeoutException):
        return OperationFailed(
            f"{where} did not answer within {timeout:g}s.",
            hint="A cold engine can be slow: raise --timeout, or check `vllmctl status`.",
        )
    if isinstance(e, httpx.ConnectError):
        reason = "connection refused" if "refused" in str(e).lower() else (str(e) or type(e).__name__)
        return Unreachable(f"cannot connect to {where}: {reason}; is the router running?", hint=STATUS_HINT)
    return Unreachable(f"lost the connection to {where}: {e or type(e).__name__}.", hint=STATUS_HINT)


class Endpoint:
    """Sync client for one-shot calls. Use as a context manager."""

    def __init__(self, base_url: str, api_key: str | None = None, timeout: float = DEFAULT_TIMEOUT) -> None:
        import httpx

        self.base_url = normalize_base_url(base_url)
        self.timeout = timeout
        self._key_sent = bool(api_key)
        self._http = httpx.Client(
            base_url=self.base_url, headers=_headers(api_key),
            timeout=httpx.Timeout(timeout, connect=min(timeout, CONNECT_TIMEOUT)),
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Endpoint:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _url(self, path: str) -> str:
        return self.base_url + path

    def models(self) -> list[str]:
        return list(self.listing())

    def listing(self) -> dict[str, str | None]:
        """Served model id -> its parent: the base model of a LoRA adapter (vLLM's `parent`), else None."""
        import httpx

        try:
            response = self._http.get("/v1/models")
        except httpx.HTTPError as e:
            raise transport_error(e, self._url("/v1/models"), self.timeout) from None
        if response.status_code != 200:
            raise http_error(response.status_code, response.content, self._url("/v1/models"), key_sent=self._key_sent)
        try:
            return {str(m["id"]): None if m.get("parent") is None else str(m["parent"])
                    for m in response.json()["data"]}
        except (ValueError, KeyError, TypeError, AttributeError):
            raise OperationFailed(
                f"{display_url(self._url('/v1/models'))} is not an OpenAI-compatible endpoint (unexpected answer)."
            ) from None

    def complete(self, model: str, prompt: str, *, chat: bool = False, max_tokens: int = 64,
                 temperature: float | None = None) -> Completion:
        import httpx

        path = "/v1/chat/completions" if chat else "/v1/completions"
        body = completion_body(model, prompt, chat=chat, max_tokens=max_tokens, temperature=temperature, stream=False)
        start = time.perf_counter()
        try:
            response = self._http.post(path, json=body)
        except httpx.HTTPError as e:
            raise transport_error(e, self._url(path), self.timeout) from None
        latency = time.perf_counter() - start
        if response.status_code != 200:
            raise http_error(response.status_code, response.content, self._url(path), model, key_sent=self._key_sent)
        try:
            answer = response.json()
            choice = answer["choices"][0]
            text = choice["message"]["content"] if chat else choice["text"]
        except (ValueError, KeyError, IndexError, TypeError):
            raise OperationFailed(f"{display_url(self._url(path))} gave an answer without a completion.") from None
        return Completion(answer.get("model", model), text or "", latency, None, answer.get("usage"),
                          choice.get("finish_reason"))

    def stream(self, model: str, prompt: str, *, on_text: Callable[[str], None], chat: bool = False,
               max_tokens: int = 64, temperature: float | None = None) -> Completion:
        """Like complete, calling on_text with each piece as it arrives."""
        import httpx

        path = "/v1/chat/completions" if chat else "/v1/completions"
        body = completion_body(model, prompt, chat=chat, max_tokens=max_tokens, temperature=temperature, stream=True)
        start = time.perf_counter()
        ttft = None
        pieces: list[str] = []
        usage = finish = None
        try:
            with self._http.stream("POST", path, json=body) as response:
                if response.status_code != 200:
                    raise http_error(response.status_code, response.read(), self._url(path), model,
                                     key_sent=self._key_sent)
                for line in response.iter_lines():
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        break
                    event = json.loads(data)
                    if "error" in event:
                        raise OperationFailed(f"{display_url(self._url(path))} failed mid-stream: "
                                              f"{server_message(data)}.")
                    usage = event.get("usage") or usage
                    for choice in event.get("choices") or ():
                        piece = (choice.get("delta") or {}).get("content") if chat else choice.get("text")
                        finish = choice.get("finish_reason") or finish
                        if piece:
                            if ttft is None:
                                ttft = time.perf_counter() - start
                            pieces.append(piece)
                            on_text(piece)
        except httpx.HTTPError as e:
            raise transport_error(e, self._url(path), self.timeout) from None
        except ValueError:
            raise OperationFailed(f"{display_url(self._url(path))} sent a malformed event stream.") from None
        return Completion(model, "".join(pieces), time.perf_counter() - start, ttft, usage, finish)


# --- async streaming for bench ---------------------------------------------------------------


class ClientPool:
    """Single-connection AsyncClients, one per request in flight.

    One shared httpx.AsyncClient with a pool of C connections costs O(C) work per request in
    httpcore's pool bookkeeping: at C=64 on loopback that made a minimal loop about ten times slower
    than the same loop with one single-connection client per worker (see benchmarks/bench_client.py).
    The TLS context is built once and shared (building one per client costs tens of ms).
    """

    def __init__(self, base_url: str, api_key: str | None, timeout: float) -> None:
        import httpx

        self._options = dict(
            base_url=normalize_base_url(base_url), headers=_headers(api_key),
            limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
            timeout=httpx.Timeout(timeout, connect=min(timeout, CONNECT_TIMEOUT)),
            verify=httpx.create_ssl_context(),
        )
        self._idle: list = []
        self._all: list = []

    def acquire(self):
        if self._idle:
            return self._idle.pop()
        import httpx

        client = httpx.AsyncClient(**self._options)
        self._all.append(client)
        return client

    def release(self, client) -> None:
        self._idle.append(client)

    async def aclose(self) -> None:
        for client in self._all:
            await client.aclose()

    async def __aenter__(self) -> ClientPool:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


@dataclass
class StreamTiming:
    """Raw facts about one streamed request: timestamps (time.perf_counter) and counts, no statistics."""

    start: float
    end: float
    token_times: list[float]  # arrival time of each event that carried output
    usage: dict | None
    error: str | None = None


async def timed_stream(client, path: str, body: dict) -> StreamTiming:
    """POST a streaming request and time every output event. Per event: one timestamp, a few byte
    comparisons; only the final usage event and error answers are parsed as JSON."""
    import httpx

    perf = time.perf_counter
    times: list[float] = []
    append = times.append
    usage_raw = None
    start = perf()
    try:
        async with client.stream("POST", path, json=body) as response:
            if response.status_code != 200:
                raw = await response.aread()
                return StreamTiming(start, perf(), times, None, f"{response.status_code} {server_message(raw)}")
            tail = b""
            async for chunk in response.aiter_bytes():
                now = perf()
                lines = (tail + chunk).split(b"\n")
                tail = lines.pop()
                for line in lines:
                    if not line.startswith(b"data:"):
                        continue
                    if line.startswith(b"data: [DONE]"):
                        break
                    if b'"error"' in line and b'"choices"' not in line:
                        return StreamTiming(start, now, times, None, server_message(line[5:]))
                    if b'"usage":{' in line or b'"usage": {' in line:
                        usage_raw = line[5:]
                        if b'"choices":[]' in line or b'"choices": []' in line:
                            continue  # the usage-only closing event carries no output
                    if b'"content":""' in line:
                        continue  # a chat stream opens with the role and no text
                    append(now)
    except httpx.HTTPError as e:
        return StreamTiming(start, perf(), times, None, f"{type(e).__name__}: {e}" if str(e) else type(e).__name__)
    end = perf()
    usage = None
    if usage_raw is not None:
        try:
            usage = json.loads(usage_raw).get("usage")
        except ValueError:
            usage = None
    return StreamTiming(start, end, times, usage)
