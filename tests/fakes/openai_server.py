"""A small OpenAI-compatible server on 127.0.0.1, standing in for the router + vLLM engines.

    with FakeOpenAI(models=["m"], api_key="k", behavior=Behavior(ttft=0.05, itl=0.005, tokens=10)) as srv:
        ... srv.url ...

LoRA adapters (`adapters`: adapter name -> base model) are listed in /v1/models as vLLM lists them,
as models of their own with `parent` = the base model's id and `root` = the adapter's path, and are
addressed by their name; POST /v1/load_lora_adapter and /v1/unload_lora_adapter (vLLM's runtime
endpoints, which the chart's LoRA controller calls) add and remove one for the first model.

Endpoints: GET /v1/models, POST /v1/completions and /v1/chat/completions (JSON or SSE streaming with
`stream: true`, usage in the final event when `stream_options.include_usage`), Bearer auth when
api_key is set (401 otherwise), 404 for an unknown model in vLLM's error format. `Behavior` (per
server, or per model in `per_model`) sets the time to first token, the delay between tokens, how
many tokens to produce (default: the request's max_tokens), a forced error status, or a hang (for
timeouts). Every request is recorded (path, headers, parsed body) so tests can check what was sent.

Written on stdlib asyncio streams (HTTP/1.1 keep-alive, chunked SSE) in its own thread, so it keeps
up with a benchmark client at concurrency 64; `python -m tests.fakes.openai_server` runs it as a
process (for benchmarks/bench_client.py) and prints its URL.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Behavior:
    ttft: float = 0.0  # seconds from the request to the first token (or to the JSON answer)
    itl: float = 0.0  # seconds between tokens
    tokens: int | None = None  # output tokens; None: the request's max_tokens (default 16)
    status: int | None = None  # answer every request with this error status
    message: str = "fake engine failure"
    hang: bool = False  # accept the request and never answer


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class FakeOpenAI:
    models: list[str] = field(default_factory=lambda: ["m"])
    api_key: str | None = None
    behavior: Behavior = field(default_factory=Behavior)
    per_model: dict[str, Behavior] = field(default_factory=dict)
    record: bool = True
    adapters: dict[str, str] = field(default_factory=dict)  # LoRA adapter name -> its base model

    def __post_init__(self) -> None:
        self.requests: list[Recorded] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.base_events.Server | None = None
        self._thread: threading.Thread | None = None
        self._port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    def start(self) -> FakeOpenAI:
        ready = threading.Event()

        def run() -> None:
            self._loop = asyncio.new_event_loop()
            self._server = self._loop.run_until_complete(
                asyncio.start_server(self._connection, "127.0.0.1", self._port, backlog=1024)
            )
            self._port = self._server.sockets[0].getsockname()[1]
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()
        ready.wait(5)
        return self

    def stop(self) -> None:
        if self._loop is None:
            return

        async def close() -> None:
            self._server.close()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop = None

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- HTTP -------------------------------------------------------------------------------

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    if ":" in line:
                        key, value = line.split(":", 1)
                        headers[key.strip().lower()] = value.strip()
                raw = await reader.readexactly(int(headers.get("content-length", 0)))
                keep = await self._request(method, path, headers, raw, writer)
                if not keep or headers.get("connection", "").lower() == "close":
                    break
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    @staticmethod
    def _json(writer: asyncio.StreamWriter, status: int, payload: Any) -> None:
        data = json.dumps(payload).encode()
        writer.write(
            f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n".encode()
            + data
        )

    @staticmethod
    def _error(writer: asyncio.StreamWriter, status: int, message: str, kind: str) -> None:
        FakeOpenAI._json(writer, status, {"error": {"message": message, "type": kind, "param": None, "code": status}})

    async def _request(self, method, path, headers, raw, writer) -> bool:
        body = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                self._error(writer, 400, "body is not JSON", "BadRequestError")
                return True
        if self.record:
            self.requests.append(Recorded(method, path, headers, body))
        if self.api_key is not None and headers.get("authorization") != f"Bearer {self.api_key}":
            self._json(writer, 401, {"error": "Unauthorized"})  # what vLLM's API-key middleware answers
            return True
        if method == "GET" and path == "/v1/models":
            created = int(time.time())
            data = [{"id": m, "object": "model", "created": created, "owned_by": "vllm", "root": f"org/{m}",
                     "parent": None} for m in self.models]
            data += [{"id": a, "object": "model", "created": created, "owned_by": "vllm",
                      "root": f"/data/lora-adapters/{a}", "parent": base} for a, base in self.adapters.items()]
            self._json(writer, 200, {"object": "list", "data": data})
            return True
        if method == "POST" and path in ("/v1/load_lora_adapter", "/v1/unload_lora_adapter"):
            self._lora(writer, path, body if isinstance(body, dict) else {})
            return True
        if method != "POST" or path not in ("/v1/completions", "/v1/chat/completions"):
            self._error(writer, 404, f"no route {method} {path}", "NotFoundError")
            return True
        model = body.get("model") if isinstance(body, dict) else None
        if model not in self.models and model not in self.adapters:
            self._error(writer, 404, f"The model `{model}` does not exist.", "NotFoundError")
            return True
        how = self.per_model.get(model, self.behavior)
        if how.hang:
            await asyncio.sleep(3600)
        if how.status:
            await asyncio.sleep(how.ttft)
            self._error(writer, how.status, how.message, "InternalServerError")
            return True
        await self._answer(writer, path == "/v1/chat/completions", body, how)
        return True

    def _lora(self, writer, path: str, body: dict) -> None:
        """vLLM's answers: 200 with a line of text, 400 InvalidUserInput for a name loaded twice or unknown."""
        name = str(body.get("lora_name") or "")
        if path.endswith("/load_lora_adapter"):
            if name in self.adapters:
                self._error(writer, 400, f"The lora adapter '{name}' has already been loaded.", "InvalidUserInput")
                return
            self.adapters[name] = self.models[0]
        elif self.adapters.pop(name, None) is None:
            self._error(writer, 400, f"The lora adapter '{name}' cannot be found.", "InvalidUserInput")
            return
        done = "added" if path.endswith("/load_lora_adapter") else "removed"
        self._json(writer, 200, f"Success: LoRA adapter '{name}' {done} successfully.")

    async def _answer(self, writer, chat: bool, body: dict, how: Behavior) -> None:
        n = how.tokens if how.tokens is not None else int(body.get("max_tokens") or 16)
        prompt = body["messages"][-1]["content"] if chat else body.get("prompt", "")
        prompt_tokens = len(prompt) if isinstance(prompt, list) else len(str(prompt).split())
        usage = {"prompt_tokens": prompt_tokens, "completion_tokens": n, "total_tokens": prompt_tokens + n}
        kind = "chat.completion" if chat else "text_completion"
        base = {"id": "cmpl-fake", "created": int(time.time()), "model": body["model"]}
        if not body.get("stream"):
            await asyncio.sleep(how.ttft + how.itl * max(n - 1, 0))
            text = "".join(_token(i) for i in range(n))
            choice = {"index": 0, "finish_reason": "length"}
            choice.update({"message": {"role": "assistant", "content": text}} if chat else {"text": text})
            self._json(writer, 200, {**base, "object": kind, "choices": [choice], "usage": usage})
            return
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        base["object"] = f"{kind}.chunk"

        def event(payload: dict | str) -> None:
            data = payload if isinstance(payload, str) else json.dumps(payload, separators=(",", ":"))
            chunk = f"data: {data}\n\n".encode()
            writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))

        await asyncio.sleep(how.ttft)
        if chat:  # vLLM opens a chat stream with the role
            event({**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]})
        for i in range(n):
            if i:
                await asyncio.sleep(how.itl)
            last = "length" if i == n - 1 else None
            piece = {"delta": {"content": _token(i)}} if chat else {"text": _token(i)}
            event({**base, "choices": [{"index": 0, **piece, "finish_reason": last}]})
            await writer.drain()
        if (body.get("stream_options") or {}).get("include_usage"):
            event({**base, "choices": [], "usage": usage})
        event("[DONE]")
        writer.write(b"0\r\n\r\n")
        await writer.drain()


def _token(i: int) -> str:
    return f" t{i}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", default=[])
    parser.add_argument("--ttft", type=float, default=0.0)
    parser.add_argument("--itl", type=float, default=0.0)
    parser.add_argument("--tokens", type=int, default=None)
    parser.add_argument("--adapter", action="append", default=[], help="NAME=BASE: a LoRA adapter of BASE")
    args = parser.parse_args()
    server = FakeOpenAI(models=args.model or ["m"], record=False,
                        adapters=dict(a.split("=", 1) for a in args.adapter),
                        behavior=Behavior(ttft=args.ttft, itl=args.itl, tokens=args.tokens)).start()
    print(server.url, flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
