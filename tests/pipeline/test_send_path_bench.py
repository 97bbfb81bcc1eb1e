"""The send path keeps enough texts in flight to reach the provider's cap (issue 19), checked by running the
``make bench`` benchmark's quick mode (bench/bench_send_path.py) so that it cannot rot: CTF and register
imported through the CLI, ``gateway absences start``, the Dramatiq actors and the real Twilio client sending to
the Twilio sandbox in its own process, which answers each create after 300 ms, at TWILIO_MPS=50.

With the old fixed four threads the embedded default reached a quarter of the cap here (4 sends in flight
/ 0.3 s ≈ 12 texts/s); the bound below leaves room for a busy test machine.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.bench_send_path import QUICK, as_bench_results, run_plan
from gateway.config import load_settings
from gateway.pipeline.worker import MAX_THREADS, MIN_THREADS, default_threads, send_threads


def test_worker_threads_follow_the_cap_and_the_providers_latency() -> None:
    assert send_threads(50, 0.4) == 32  # 50 × (0.4 + 0.1) × 1.25 sends in flight
    assert send_threads(1, 0.4) == MIN_THREADS and send_threads(1000, 0.4) == MAX_THREADS
    settings = load_settings(twilio_mps=100, twilio_expected_latency=0.2)
    assert default_threads(settings) == 38
    assert default_threads(load_settings(twilio_mps=100, worker_threads=5)) == 5  # an operator's choice wins


@pytest.mark.slow
def test_quick_send_path_benchmark_reaches_the_cap_exactly_once(tmp_path: Path) -> None:
    cells = run_plan(QUICK, tmp_path)
    assert cells and {cell.backend for cell in cells} >= {"embedded"}
    for cell in cells:
        summary = f"{cell.label()}: {cell.provider_rate:.1f}/s, max {cell.max_in_a_second} in a second"
        assert cell.texts >= 100, summary
        assert cell.duplicates == {}, summary  # each text reached the provider exactly once
        assert cell.fraction >= 0.8, summary
        # Arrivals at the far end: the limiter's 20 ms guard covers most jitter on the way, not all of it on a
        # machine this busy (the limiter's own grants never exceed the cap: tests/channels/test_rate_limit.py).
        assert cell.max_in_a_second <= cell.cap + 3, summary
        assert 0 < cell.start_to_first_text < cell.start_to_last_accepted, summary
    results = as_bench_results(cells)
    assert [r.issue for r in results] == [19] * len(cells)
    assert all(r.unit == "of cap" and r.value == cell.fraction for r, cell in zip(results, cells, strict=True))
