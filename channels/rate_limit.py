"""The provider's messages-per-second cap (``TWILIO_MPS``), shared by every worker on every machine.

The rule is GCRA with no burst allowance: a permit is granted only when at least ``1/rate`` seconds have
passed since the previous grant, measured on one clock (this process's monotonic clock, or the Redis
server's clock for every machine sharing the key). Grants are therefore never closer than the interval, so
no window of one second ever holds more than ``rate`` of them, and with work queued they follow each other
at the interval (the cap, less the time a waiter takes to wake up).

Within a process, waiters take turns through a lock so only one of them polls the clock (or Redis) at a
time: the others would only learn that the next slot is taken.
"""

from __future__ import annotations

import math
import threading
import time
from typing import Protocol

import redis

# GCRA on the Redis server's clock. KEYS[1]: the account's key; ARGV[1]: the interval in microseconds.
# Returns {1, grant_time_us} or {0, microseconds to wait}.
_GCRA_SCRIPT = """
local interval = tonumber(ARGV[1])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local next_free = tonumber(redis.call('GET', KEYS[1]) or '0')
if now < next_free then
    return {0, next_free - now}
end
redis.call('SET', KEYS[1], tostring(now + interval), 'PX', math.ceil(interval / 1000) + 1000)
return {1, now}
"""


class _PermitClock(Protocol):
    def try_acquire(self) -> tuple[bool, float, int]:
        """(granted, seconds to wait if not, grant time in the clock's integer units if granted)."""
        ...

    def close(self) -> None: ...


class _LocalPermitClock:
    """GCRA on this process's monotonic clock, in nanoseconds (integers: no rounding at the boundary)."""

    def __init__(self, rate: float) -> None:
        self.interval_ns = math.ceil(1e9 / rate)
        self._next_free = 0

    def try_acquire(self) -> tuple[bool, float, int]:
        now = time.monotonic_ns()
        if now < self._next_free:
            return False, (self._next_free - now) / 1e9, 0
        self._next_free = now + self.interval_ns
        return True, 0.0, now

    def close(self) -> None:
        return None


class _RedisPermitClock:
    """GCRA on the Redis server's clock, so every worker on every machine shares one schedule."""

    def __init__(self, client: redis.Redis, key: str, rate: float) -> None:
        self.interval_us = math.ceil(1e6 / rate)
        self._client = client
        self._key = key
        self._script = client.register_script(_GCRA_SCRIPT)

    def try_acquire(self) -> tuple[bool, float, int]:
        granted, value = self._script(keys=[self._key], args=[self.interval_us])
        if int(granted):
            return True, 0.0, int(value)
        return False, int(value) / 1e6, 0

    def close(self) -> None:
        self._client.close()


class RateLimitTimeout(Exception):
    """No permit within the caller's timeout."""


class RateLimiter:
    """Blocking permits at ``rate`` per second: in-process, or shared through Redis with :meth:`shared`."""

    def __init__(self, rate: float, *, clock: _PermitClock | None = None) -> None:
        if rate <= 0:
            raise ValueError("rate must be greater than 0")
        self.rate = rate
        self._clock: _PermitClock = clock or _LocalPermitClock(rate)
        self._turn = threading.Lock()

    @classmethod
    def shared(cls, redis_url: str, rate: float, *, key: str) -> RateLimiter:
        """A limiter shared by every process using the same Redis and ``key`` (e.g. per Twilio account)."""
        client = redis.Redis.from_url(redis_url)
        return cls(rate, clock=_RedisPermitClock(client, key, rate))

    def acquire(self, timeout: float | None = None) -> int:
        """Block until a permit is granted; return its grant time (ns locally, µs on Redis; for tests).

        Raises RateLimitTimeout when ``timeout`` seconds pass first."""
        deadline = None if timeout is None else time.monotonic() + timeout
        if not self._turn.acquire(timeout=-1 if timeout is None else timeout):
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
