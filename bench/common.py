"""What every benchmark module shares: its result type and helpers for timing and memory."""

from __future__ import annotations

import os
import resource
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any

PG_URL = os.environ.get("GATEWAY_BENCH_DATABASE_URL") or os.environ.get("GATEWAY_TEST_DATABASE_URL")
REDIS_URL = os.environ.get("GATEWAY_BENCH_REDIS_URL") or os.environ.get("GATEWAY_TEST_REDIS_URL")


@dataclass
class BenchResult:
    """One measured figure. ``target`` is the issue's goal, written as text ("< 60 s", ">= 0.95")."""

    issue: int
    name: str
    value: float
    unit: str
    target: str = ""
    ok: bool | None = None
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@contextmanager
def stopwatch() -> Iterator[list[float]]:
    """``with stopwatch() as t: ...`` then ``t[0]`` is the elapsed wall time in seconds."""
    out: list[float] = []
    start = time.perf_counter()
    try:
        yield out
    finally:
        out.append(time.perf_counter() - start)


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
