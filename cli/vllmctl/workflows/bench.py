"""vllmctl bench: N streamed requests at a fixed concurrency or a Poisson arrival rate.

The client must never be the bottleneck: one asyncio loop; one single-connection httpx client per
request in flight (openai_http.ClientPool says why not one shared pooled client); fixed-concurrency
runs use C long-lived workers (no task per request waiting on a semaphore); per-token work is a
timestamp; prompts are built before the clock starts. All statistics are computed afterwards by core.bench_stats.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import dataclass

from vllmctl.adapters import openai_http
from vllmctl.core import bench_stats
from vllmctl.core.settings import Settings
from vllmctl.errors import InvalidInput
from vllmctl.workflows.api_key import resolve_api_key

# Common English words that most tokenizers encode as one token each (with the leading space), so a
# prompt of n words is about n tokens; the server's usage reports the exact count.
_WORDS = (  # noqa: SIM905 - a word list reads better as text
    "the of and to in is that for it as was with be by on not he this are or his from at which but have an "
    "they you were her she there one all we their has been if more when will would who so no time can its "
    "out up about into than them only other new some could these two may first then do any like my now "
    "over such our man me even most made after also did many before must through back years where much "
    "your way well down should because each just those people how too little state good very make world"
).split()


@dataclass
class BenchPlan:
    model: str
    requests: int = 100
    concurrency: int | None = None  # None with a rate: unbounded
    rate: float | None = None  # requests per second, Poisson arrivals; None: as fast as concurrency allows
    input_len: int = 128
    output_len: int = 128
    range_ratio: float = 0.0
    seed: int = 0
    chat: bool = False
    timeout: float = 300.0

    def check(self) -> None:
        if self.requests < 1:
            raise InvalidInput("--requests must be at least 1.")
        if self.concurrency is not None and self.concurrency < 1:
            raise InvalidInput("--concurrency must be at least 1.")
        if self.rate is not None and self.rate <= 0:
            raise InvalidInput("--rate must be above 0 requests per second.")
        if self.input_len < 1 or self.output_len < 1:
            raise InvalidInput("--input-len and --output-len must be at least 1.")
        if not 0 <= self.range_ratio < 1:
            raise InvalidInput("--random-range-ratio must be at least 0 and below 1.")

    @property
    def pool_size(self) -> int:
        """Workers of a fixed-concurrency run."""
        return min(self.concurrency or self.requests, self.requests)


def build_bodies(plan: BenchPlan) -> list[dict]:
    rng = random.Random(plan.seed)
    inputs = bench_stats.sample_lengths(plan.input_len, plan.range_ratio, plan.requests, rng)
    outputs = bench_stats.sample_lengths(plan.output_len, plan.range_ratio, plan.requests, rng)
    bodies = []
    for n_in, n_out in zip(inputs, outputs, strict=True):
        prompt = " ".join(rng.choice(_WORDS) for _ in range(n_in))
        body = openai_http.completion_body(plan.model, prompt, chat=plan.chat, max_tokens=n_out,
                                           temperature=0.0, stream=True)
        body["ignore_eos"] = True  # vLLM: produce exactly max_tokens, so output lengths are what was asked
        bodies.append(body)
    return bodies


Progress = Callable[[int, int, int], None]  # (done, total, failed)


async def _run(plan: BenchPlan, base_url: str, api_key: str | None, bodies: list[dict],
               progress: Progress | None) -> list[openai_http.StreamTiming]:
    path = "/v1/chat/completions" if plan.chat else "/v1/completions"
    results: dict[int, openai_http.StreamTiming] = {}  # by request index, as they finish
    failed = 0
    done = 0
    async with openai_http.ClientPool(base_url, api_key, plan.timeout) as pool:
        stream = openai_http.timed_stream

        async def one(client, i: int) -> None:
            nonlocal done, failed
            timing = await stream(client, path, bodies[i])
            results[i] = timing
            done += 1
            if timing.error is not None:
                failed += 1

        async def ticker(report: Progress) -> None:
            while True:
                report(done, len(bodies), failed)
                await asyncio.sleep(0.25)

        tick = asyncio.create_task(ticker(progress)) if progress else None
        try:
            if plan.rate is None:
                await _closed_loop(plan, pool, one, len(bodies))
            else:
                await _open_loop(plan, plan.rate, pool, one, len(bodies))
        finally:
            if tick:
                tick.cancel()
            if progress:
                progress(done, len(bodies), failed)
    return [results[i] for i in range(len(bodies))]


async def _closed_loop(plan: BenchPlan, pool, one, n: int) -> None:
    """pool_size workers, each sending its next request as soon as the last one finished."""
    indexes = iter(range(n))

    async def worker() -> None:
        client = pool.acquire()  # a worker keeps its connection for the whole run
        for i in indexes:  # a shared iterator: each worker takes the next request
            await one(client, i)

    await asyncio.gather(*(worker() for _ in range(plan.pool_size)))


async def _open_loop(plan: BenchPlan, rate: float, pool, one, n: int) -> None:
    """Requests arriving as a Poisson process at `rate` a second, at most plan.concurrency in flight."""
    gaps = bench_stats.poisson_gaps(rate, n, random.Random(plan.seed + 1))
    limit = asyncio.Semaphore(plan.concurrency) if plan.concurrency else None

    async def arrival(i: int) -> None:
        if limit:
            await limit.acquire()
        client = pool.acquire()
        try:
            await one(client, i)
        finally:
            pool.release(client)
            if limit:
                limit.release()

    tasks = []
    loop = asyncio.get_running_loop()
    due = loop.time()
    for i, gap in enumerate(gaps):
        due += gap
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(arrival(i)))
    await asyncio.gather(*tasks)


def to_record(t: openai_http.StreamTiming) -> bench_stats.RequestRecord:
    usage = t.usage or {}
    return bench_stats.RequestRecord(
        start=t.start, end=t.end, token_times=t.token_times, output_tokens=usage.get("completion_tokens"),
        prompt_tokens=usage.get("prompt_tokens"), error=t.error,
    )


def run_bench(settings: Settings, base_url: str, plan: BenchPlan, *, api_key=None,
              progress: Progress | None = None) -> dict:
    """Run the plan and return bench_stats.summarize's report plus the plan's parameters."""
    plan.check()
    key = api_key if api_key is not None else resolve_api_key(settings)
    # One probe first, so a wrong URL, key or model fails with one clear line instead of N errors.
    from vllmctl.workflows.api import send_completion

    send_completion(settings, base_url, plan.model, "Hello", max_tokens=1, timeout=plan.timeout, chat=plan.chat,
                    api_key=key)
    bodies = build_bodies(plan)
    timings = asyncio.run(_run(plan, base_url, key, bodies, progress))
    report = bench_stats.summarize(to_record(t) for t in timings)
    report["plan"] = {
        "model": plan.model, "endpoint": openai_http.display_url(openai_http.normalize_base_url(base_url)),
        "requests": plan.requests, "concurrency": plan.concurrency, "rate": plan.rate,
        "input_len": plan.input_len, "output_len": plan.output_len, "random_range_ratio": plan.range_ratio,
        "seed": plan.seed, "chat": plan.chat,
    }
    return report
