"""vllmctl bench's client overhead: `vllmctl bench` against the fake OpenAI server, beside a minimal
asyncio + httpx loop sending the same streamed requests at the same concurrency.

Target: vllmctl bench reaches at least 90% of the minimal loop's requests/s at concurrency 64. The
server runs in its own process on loopback with short, fixed timings, so the client side is what
limits both runs; each side runs twice, alternating, and the better run counts. The target is
measured against the faster minimal loop (a single-connection client per worker); the textbook
loop with one shared pooled client is printed beside it to show why vllmctl does not use one.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CONCURRENCY = 64
REQUESTS = 1500
OUTPUT_TOKENS = 16
INPUT_WORDS = 32
SERVER_ARGS = ["--model", "m", "--ttft", "0.002", "--itl", "0.0005", "--tokens", str(OUTPUT_TOKENS)]
TARGET = 0.90


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VLLM_", "VAULT_"))}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "cli"), str(REPO), env.get("PYTHONPATH", "")])
    return env


def _vllmctl_bench(url: str) -> float:
    proc = subprocess.run(
        [sys.executable, "-m", "vllmctl.main", "bench", "m", "--url", url, "--requests", str(REQUESTS),
         "--concurrency", str(CONCURRENCY), "--input-len", str(INPUT_WORDS), "--output-len", str(OUTPUT_TOKENS),
         "--output", "json"],
        env={**_env(), "VLLM_API_KEY_ENABLED": "false"}, capture_output=True, text=True, timeout=300, cwd=REPO,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"vllmctl bench failed: {proc.stderr.strip()}")
    report = json.loads(proc.stdout)
    assert report["completed"] == REQUESTS and report["total_output_tokens"] == REQUESTS * OUTPUT_TOKENS
    return report["request_throughput"]


async def _minimal_loop(url: str, shared: bool) -> float:
    """The least a streaming client can do: C workers, read the bytes, count. With shared, one
    AsyncClient pooling C connections (the textbook way); else one single-connection client per
    worker (what vllmctl bench does, because httpcore's pool bookkeeping is O(C) per request)."""
    import httpx

    body = {"model": "m", "prompt": " ".join(["word"] * INPUT_WORDS), "max_tokens": OUTPUT_TOKENS,
            "stream": True, "stream_options": {"include_usage": True}, "ignore_eos": True}
    size = CONCURRENCY if shared else 1
    limits = httpx.Limits(max_connections=size, max_keepalive_connections=size)
    clients = [httpx.AsyncClient(base_url=url, limits=limits, timeout=60) for _ in range(1 if shared else CONCURRENCY)]
    remaining = iter(range(REQUESTS))
    done = 0

    async def worker(client) -> None:
        nonlocal done
        for _ in remaining:
            async with client.stream("POST", "/v1/completions", json=body) as response:
                async for _chunk in response.aiter_bytes():
                    pass
            done += response.status_code == 200

    start = time.perf_counter()
    await asyncio.gather(*(worker(clients[i % len(clients)]) for i in range(CONCURRENCY)))
    elapsed = time.perf_counter() - start
    for client in clients:
        await client.aclose()
    assert done == REQUESTS
    return REQUESTS / elapsed


def main() -> int:
    server = subprocess.Popen([sys.executable, "-m", "tests.fakes.openai_server", *SERVER_ARGS],
                              cwd=REPO, env=_env(), stdout=subprocess.PIPE, text=True)
    try:
        url = server.stdout.readline().strip()
        if not url.startswith("http://127.0.0.1:"):
            raise RuntimeError("the fake server did not start")
        minimal, shared, tool = [], [], []
        for _ in range(2):
            minimal.append(asyncio.run(_minimal_loop(url, shared=False)))
            tool.append(_vllmctl_bench(url))
            shared.append(asyncio.run(_minimal_loop(url, shared=True)))
    finally:
        server.terminate()
        server.wait(10)
    ratio = max(tool) / max(minimal)
    print(f"   {REQUESTS} streamed requests x {OUTPUT_TOKENS} tokens at concurrency {CONCURRENCY}, loopback")
    def runs(xs: list[float]) -> str:
        return f"{max(xs):8.1f} requests/s  (runs: {', '.join(f'{x:.0f}' for x in xs)})"

    print(f"   minimal loop, a client per connection:  {runs(minimal)}")
    print(f"   minimal loop, one shared pooled client: {runs(shared)}")
    print(f"   vllmctl bench:                          {runs(tool)}")
    met = ratio >= TARGET
    verdict = 'met' if met else 'NOT met'
    print(f"   vllmctl bench / fastest minimal loop: {ratio:.2f} (target >= {TARGET:.2f}: {verdict})")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
