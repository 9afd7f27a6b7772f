"""core.bench_stats: percentiles and the report computed from raw timestamps."""

from __future__ import annotations

import math
import random

import pytest

from vllmctl.core import bench_stats
from vllmctl.core.bench_stats import RequestRecord, distribution, percentile, summarize


def test_percentile_interpolates_like_numpy():
    values = [15, 20, 35, 40, 50]
    assert percentile(values, 50) == 35
    assert percentile(values, 90) == pytest.approx(46.0)
    assert percentile(values, 99) == pytest.approx(49.6)
    assert percentile([3.0], 99) == 3.0
    assert math.isnan(percentile([], 50))
    assert percentile(list(reversed(values)), 0) == 15


def test_distribution_is_in_milliseconds_and_none_when_empty():
    assert distribution([0.1, 0.2, 0.3]) == pytest.approx({"mean": 200.0, "p50": 200.0, "p90": 280.0, "p99": 298.0})
    assert distribution([]) == {"mean": None, "p50": None, "p90": None, "p99": None}


def record(start, ttft, gap, tokens, **kw):
    times = [start + ttft + i * gap for i in range(tokens)]
    return RequestRecord(start=start, end=times[-1] + 0.001, token_times=times, **kw)


def test_summary_of_known_requests():
    records = [
        record(0.0, 0.05, 0.01, 5, output_tokens=5, prompt_tokens=10),
        record(0.5, 0.10, 0.02, 3, output_tokens=3, prompt_tokens=20),
        RequestRecord(start=0.2, end=0.3, error="500 boom"),
        RequestRecord(start=0.3, end=0.4, error="500 boom"),
    ]
    s = summarize(records)
    assert (s["requests"], s["completed"], s["failed"]) == (4, 2, 2)
    assert s["errors"] == {"500 boom": 2}
    assert s["duration_s"] == pytest.approx(0.5 + 0.10 + 0.04 + 0.001)
    assert s["request_throughput"] == pytest.approx(2 / s["duration_s"])
    assert s["output_throughput"] == pytest.approx(8 / s["duration_s"])
    assert (s["total_input_tokens"], s["total_output_tokens"]) == (30, 8)
    assert s["ttft_ms"]["mean"] == pytest.approx(75.0)
    assert s["itl_ms"]["p50"] == pytest.approx(10.0)  # gaps: four of 10 ms, two of 20 ms
    assert s["itl_ms"]["mean"] == pytest.approx((4 * 10 + 2 * 20) / 6)
    assert s["tpot_ms"]["p50"] == pytest.approx(((0.041 / 4) + (0.041 / 2)) / 2 * 1000)
    assert s["e2e_ms"]["p50"] == pytest.approx((91 + 141) / 2)


def test_output_tokens_fall_back_to_counted_events():
    s = summarize([record(0.0, 0.01, 0.01, 4)])
    assert s["total_output_tokens"] == 4


def test_empty_run():
    s = summarize([])
    assert s["completed"] == 0 and s["request_throughput"] == 0.0 and s["ttft_ms"]["p50"] is None


def test_sample_lengths_and_poisson_gaps():
    rng = random.Random(1)
    assert bench_stats.sample_lengths(100, 0, 3, rng) == [100, 100, 100]
    lengths = bench_stats.sample_lengths(100, 0.25, 2000, rng)
    assert min(lengths) >= 75 and max(lengths) <= 125 and min(lengths) < 80 and max(lengths) > 120
    assert set(bench_stats.sample_lengths(1, 0.9, 50, rng)) == {1, 2}  # never 0 tokens
    gaps = bench_stats.poisson_gaps(50.0, 5000, random.Random(2))
    assert sum(gaps) / len(gaps) == pytest.approx(1 / 50, rel=0.05)
    assert bench_stats.poisson_gaps(float("inf"), 3, rng) == [0.0, 0.0, 0.0]
