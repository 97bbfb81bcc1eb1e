"""The provider's messages-per-second cap (``TWILIO_MPS``), shared by every worker on every machine.

Two rules, checked together on one clock (this process's monotonic clock, or the Redis server's clock for
every machine sharing the key):

- **a hard cap**: a permit is granted only while fewer than ``floor(rate)`` permits were granted in the last
  second and a guard (a sliding log of grant times). The guard (20 ms) covers the time a request takes to
  reach the provider, which varies: requests granted 1.000 s apart may arrive 0.99 s apart, and the provider
  counts arrivals. So no one-second window holds more than the cap, at our end or (within the guard) at theirs;
- **a steady pace** (GCRA): permits follow a schedule one interval (``1/rate``) apart, never ahead of it. A
  waiter that wakes a little late (thread scheduling, a Redis round trip) does not push the schedule back, as
  long as it is less than ``slack`` intervals late; so with work queued the pace stays at the cap instead of
  at the cap less every waiter's lateness. After idling, at most ``SLACK_INTERVALS + 1`` permits go at once.
  (Granting ahead of the schedule as well, as this once did, let twice that through at the start of every
  window: bursts at the window's edge, which the provider then counted in the previous second.)

Within a process, at most two waiters poll the clock (or Redis) at a time: more would only learn that the
next slot is taken, while a second one keeps the pace when the first is woken late by a busy machine.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from typing import Protocol

import redis

SLACK_INTERVALS = 4  # lateness forgiven, in intervals; one less than the most permits granted together
GUARD_SECONDS = 0.02  # added to the one-second window for the jitter in reaching the provider

# KEYS[1]: the schedule (next slot, µs); KEYS[2]: the log of grants (sorted set); KEYS[3]: a member counter.
# ARGV: interval µs, slack µs, cap per window, window µs. Returns {1, grant_time_us} or {0, µs to wait}.
_PERMIT_SCRIPT = """
local interval, slack, cap, window = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local next_slot = tonumber(redis.call('GET', KEYS[1]) or '0')
if now < next_slot then
    return {0, next_slot - now}
end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - window)
if redis.call('ZCARD', KEYS[2]) >= cap then
    local oldest = tonumber(redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')[2])
    return {0, math.max(1, oldest + window - now + 1)}
end
local member = redis.call('INCR', KEYS[3])
redis.call('ZADD', KEYS[2], now, member)
redis.call('SET', KEYS[1], tostring(math.max(next_slot, now - slack) + interval), 'PX', 5000)
redis.call('PEXPIRE', KEYS[2], 5000)
redis.call('PEXPIRE', KEYS[3], 5000)
return {1, now}
"""


def _cap_per_second(rate: float) -> int:
    return max(1, math.floor(rate))


class _PermitClock(Protocol):
    def try_acquire(self) -> tuple[bool, float, int]:
        """(granted, seconds to wait if not, grant time in the clock's integer units if granted)."""
        ...

    def close(self) -> None: ...


class _LocalPermitClock:
    """Both rules on this process's monotonic clock, in integer nanoseconds (no rounding at the boundary)."""

    def __init__(self, rate: float, guard: float = GUARD_SECONDS) -> None:
        self.window_ns = 1_000_000_000 + round(guard * 1e9)
        self.cap = _cap_per_second(rate)
        # The pace matches the window, so the log rarely has to hold a waiter back.
        self.interval_ns = math.ceil(self.window_ns / rate)
        self.slack_ns = SLACK_INTERVALS * self.interval_ns
        self._next_slot = 0
        self._log: deque[int] = deque()
        self._lock = threading.Lock()

    def try_acquire(self) -> tuple[bool, float, int]:
        with self._lock:
            return self._try_acquire_locked()

    def _try_acquire_locked(self) -> tuple[bool, float, int]:
        now = time.monotonic_ns()
        if now < self._next_slot:
            return False, (self._next_slot - now) / 1e9, 0
        while self._log and self._log[0] <= now - self.window_ns:
            self._log.popleft()
        if len(self._log) >= self.cap:
            return False, (self._log[0] + self.window_ns - now + 1) / 1e9, 0
        self._log.append(now)
        self._next_slot = max(self._next_slot, now - self.slack_ns) + self.interval_ns
        return True, 0.0, now

    def close(self) -> None:
        return None


class _RedisPermitClock:
    """Both rules on the Redis server's clock, so every worker on every machine shares one schedule."""

    def __init__(self, client: redis.Redis, key: str, rate: float, guard: float = GUARD_SECONDS) -> None:
        self.window_us = 1_000_000 + round(guard * 1e6)
        self.cap = _cap_per_second(rate)
        self.interval_us = math.ceil(self.window_us / rate)
        self._client = client
        # One hash tag for the three keys: a Redis Cluster keeps them on one node, as a script requires.
        self._keys = [f"{{{key}}}:next", f"{{{key}}}:log", f"{{{key}}}:seq"]
        self._script = client.register_script(_PERMIT_SCRIPT)

    def try_acquire(self) -> tuple[bool, float, int]:
        args = [self.interval_us, SLACK_INTERVALS * self.interval_us, self.cap, self.window_us]
        granted, value = self._script(keys=self._keys, args=args)
        if int(granted):
            return True, 0.0, int(value)
        return False, int(value) / 1e6, 0

    def close(self) -> None:
        self._client.close()


class RateLimitTimeout(Exception):
    """No permit within the caller's timeout."""


class RateLimiter:
    """Blocking permits at ``rate`` per second: in-process, or shared through Redis with :meth:`shared`."""

    def __init__(
        self, rate: float, *, clock: _PermitClock | None = None, guard: float = GUARD_SECONDS, pollers: int = 2
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be greater than 0")
        self.rate = rate
        self._clock: _PermitClock = clock or _LocalPermitClock(rate, guard)
        self._turn = threading.BoundedSemaphore(pollers)

    @classmethod
    def shared(cls, redis_url: str, rate: float, *, key: str, guard: float = GUARD_SECONDS) -> RateLimiter:
        """A limiter shared by every process using the same Redis and ``key`` (e.g. per Twilio account)."""
        client = redis.Redis.from_url(redis_url)
        return cls(rate, clock=_RedisPermitClock(client, key, rate, guard))

    def acquire(self, timeout: float | None = None) -> int:
        """Block until a permit is granted; return its grant time (ns locally, µs on Redis; for tests).

        Raises RateLimitTimeout when ``timeout`` seconds pass first."""
        deadline = None if timeout is None else time.monotonic() + timeout
        if not self._turn.acquire(timeout=timeout):
            raise RateLimitTimeout(f"no permit within {timeout} s")
        try:
            while True:
                granted, wait, grant_time = self._clock.try_acquire()
                if granted:
                    return grant_time
                if deadline is not None and time.monotonic() + wait > deadline:
                    raise RateLimitTimeout(f"no permit within {timeout} s")
                time.sleep(wait)
        finally:
            self._turn.release()

    def close(self) -> None:
        """Release the Redis connection, if any."""
        self._clock.close()


def twilio_rate_key(account_sid: str, prefix: str = "gateway") -> str:
    """The Redis key of one Twilio account's cap (Twilio counts per account)."""
    return f"{prefix}:ratelimit:twilio:{account_sid}"
