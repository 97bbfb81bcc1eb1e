"""The provider's cap: never more than ``rate`` permits in any one-second window (counted, not timed)."""

from __future__ import annotations

import threading
import uuid
from collections import Counter

import pytest

from channels.rate_limit import SLACK_INTERVALS, RateLimiter, RateLimitTimeout


def _take(limiters: list[RateLimiter], threads_each: int, permits: int) -> list[int]:
    """Grant times from ``threads_each`` threads per limiter taking ``permits`` permits in total."""
    grants: list[int] = []
    lock = threading.Lock()
    remaining = [permits]

    def worker(limiter: RateLimiter) -> None:
        while True:
            with lock:
                if remaining[0] == 0:
                    return
                remaining[0] -= 1
            granted = limiter.acquire()
            with lock:
                grants.append(granted)

    threads = [threading.Thread(target=worker, args=(lim,)) for lim in limiters for _ in range(threads_each)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sorted(grants)


def _most_in_any_window(grants: list[int], window: int) -> int:
    """The largest number of grants inside any half-open window of ``window`` clock units."""
    most, start = 0, 0
    for end, at in enumerate(grants):
        while at - grants[start] >= window:
            start += 1
        most = max(most, end - start + 1)
    return most


def test_in_process_never_exceeds_the_cap_in_any_second() -> None:
    rate = 40
    grants = _take([RateLimiter(rate)], threads_each=8, permits=rate * 2 + 10)
    assert len(grants) == rate * 2 + 10
    assert _most_in_any_window(grants, 1_000_000_000) <= rate  # nanoseconds
    per_second = Counter(g // 1_000_000_000 for g in grants)
    assert max(per_second.values()) <= rate


@pytest.mark.redis
def test_two_limiters_on_redis_share_one_cap(redis_url: str) -> None:
    rate = 40
    key = f"test:{uuid.uuid4().hex}:ratelimit"
    first, second = RateLimiter.shared(redis_url, rate, key=key), RateLimiter.shared(redis_url, rate, key=key)
    try:
        grants = _take([first, second], threads_each=4, permits=rate * 2 + 10)
    finally:
        first.close()
        second.close()
    assert len(grants) == rate * 2 + 10
    assert _most_in_any_window(grants, 1_000_000) <= rate  # microseconds on the Redis server's clock
    assert max(Counter(g // 1_000_000 for g in grants).values()) <= rate


def _burst_after_idling(limiter: RateLimiter, units_per_second: float) -> int:
    """How many of 12 permits were granted within 50 ms of the first."""
    grants = _take([limiter], threads_each=8, permits=12)
    return sum(1 for g in grants if g - grants[0] < 0.05 * units_per_second)


def test_after_idling_at_most_slack_plus_one_permits_go_at_once() -> None:
    # Permits are never granted ahead of the schedule: a burst of 2 x SLACK at each window's edge arrived at the
    # provider bunched against the previous second's last permits (up to 15 in a second at 10 MPS).
    assert _burst_after_idling(RateLimiter(10), 1e9) == SLACK_INTERVALS + 1


@pytest.mark.redis
def test_after_idling_at_most_slack_plus_one_permits_go_at_once_on_redis(redis_url: str) -> None:
    limiter = RateLimiter.shared(redis_url, 10, key=f"test:{uuid.uuid4().hex}:ratelimit")
    try:
        assert _burst_after_idling(limiter, 1e6) == SLACK_INTERVALS + 1
    finally:
        limiter.close()


@pytest.mark.redis
def test_limiters_on_different_keys_do_not_share(redis_url: str) -> None:
    a = RateLimiter.shared(redis_url, 1, key=f"test:{uuid.uuid4().hex}")
    b = RateLimiter.shared(redis_url, 1, key=f"test:{uuid.uuid4().hex}")
    try:
        a.acquire()
        b.acquire(timeout=0.5)  # would time out were the keys shared
    finally:
        a.close()
        b.close()


def test_a_waiter_gives_up_at_its_timeout() -> None:
    limiter = RateLimiter(0.5)
    limiter.acquire()
    with pytest.raises(RateLimitTimeout):
        limiter.acquire(timeout=0.05)


def test_a_rate_must_be_positive() -> None:
    with pytest.raises(ValueError):
        RateLimiter(0)
