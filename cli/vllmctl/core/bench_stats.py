"""Benchmark statistics, computed after the run from raw per-request timestamps (pure).

Definitions follow vLLM's own benchmark (benchmarks/benchmark_serving.py) so figures compare:
TTFT = first output event - request start; ITL = the gaps between consecutive output events;
TPOT = (end-to-end - TTFT) / (output tokens - 1); E2E = request start -> end of the stream;
throughput over the wall time from the first request's start to the last request's end.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

PERCENTILES = (50, 90, 99)


@dataclass
class RequestRecord:
    start: float
    end: float
    token_times: list[float] = field(default_factory=list)
    output_tokens: int | None = None  # from the server's usage; None: count the output events
    prompt_tokens: int | None = None
    error: str | None = None


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile with linear interpolation between closest ranks (numpy's default)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def distribution(values: Sequence[float], scale: float = 1000.0) -> dict[str, float | None]:
    """mean and p50/p90/p99 of `values` (seconds) in milliseconds; None when there are none."""
    if not values:
        return {"mean": None, **{f"p{q}": None for q in PERCENTILES}}
    ordered = sorted(values)
    result: dict[str, float | None] = {"mean": sum(ordered) / len(ordered) * scale}
    for q in PERCENTILES:
        result[f"p{q}"] = percentile(ordered, q) * scale
    return result


def output_tokens(record: RequestRecord) -> int:
    return record.output_tokens if record.output_tokens is not None else len(record.token_times)


def summarize(records: Iterable[RequestRecord]) -> dict:
    records = list(records)
    ok = [r for r in records if r.error is None]
    failed = [r.error for r in records if r.error is not None]
    duration = max(r.end for r in records) - min(r.start for r in records) if records else 0.0
    ttft: list[float] = []
    itl: list[float] = []
    tpot: list[float] = []
    e2e: list[float] = []
    out_total = in_total = 0
    for r in ok:
        n = output_tokens(r)
        out_total += n
        in_total += r.prompt_tokens or 0
        e2e.append(r.end - r.start)
        times = r.token_times
        if times:
            ttft.append(times[0] - r.start)
            itl.extend(b - a for a, b in zip(times, times[1:], strict=False))
            if n > 1:
                tpot.append((r.end - times[0]) / (n - 1))
    per_second = (lambda x: x / duration) if duration > 0 else (lambda x: 0.0)
    errors: dict[str, int] = {}
    for error in failed:
        errors[error] = errors.get(error, 0) + 1
    return {
        "requests": len(records),
        "completed": len(ok),
        "failed": len(failed),
        "duration_s": duration,
        "request_throughput": per_second(len(ok)),
        "output_throughput": per_second(out_total),
        "total_input_tokens": in_total,
        "total_output_tokens": out_total,
        "ttft_ms": distribution(ttft),
        "itl_ms": distribution(itl),
        "tpot_ms": distribution(tpot),
        "e2e_ms": distribution(e2e),
        "errors": dict(sorted(errors.items(), key=lambda kv: -kv[1])),
    }


def sample_lengths(mean: int, ratio: float, count: int, rng) -> list[int]:
    """`count` lengths uniform in [mean*(1-ratio), mean*(1+ratio)] (vLLM's --random-range-ratio), at least 1.
    `rng` is a random.Random, so a seed reproduces a run."""
    if ratio <= 0:
        return [max(1, mean)] * count
    low = max(1, math.floor(mean * (1 - ratio)))
    high = max(low, math.ceil(mean * (1 + ratio)))
    return [rng.randint(low, high) for _ in range(count)]


def poisson_gaps(rate: float, count: int, rng) -> list[float]:
    """Gaps between `count` arrivals of a Poisson process at `rate` per second (0 or inf: all at once)."""
    if not rate or math.isinf(rate):
        return [0.0] * count
    return [rng.expovariate(rate) for _ in range(count)]
