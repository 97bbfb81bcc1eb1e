"""Issue 4: SMS dispatch under the provider's cap, and e-mail throughput with pooled connections.

- SMS: N worker threads send through ``TwilioSmsChannel`` (limiter at TWILIO_MPS = 100) to the Twilio sandbox
  answering after 50 ms. The sandbox runs in its own process, as the provider would: sharing this process's
  GIL it would time requests' arrival late by tens of milliseconds when 12 threads are busy. Figures:
  achieved rate / cap, the most requests the sandbox received in any one second (sliding window, and per
  whole second), and the same run's plain sequential loop over ``client.messages.create`` for comparison.
  With a Redis URL, the cap is also shared by two channels.
- E-mail: messages per second through the aiosmtpd sandbox with pooled connections, beside a new connection
  per message, same threads (issue 19: pooled at least twice as fast). The sandbox shares this process (and its
  GIL), so the relay's CPU counts against the client's in both figures.
"""

from __future__ import annotations

import itertools
import secrets
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from bench.common import REDIS_URL, BenchResult
from channels.base import OutgoingMessage
from channels.config import SmtpConfig, TwilioConfig
from channels.rate_limit import RateLimiter
from channels.sandbox.runner import free_port
from channels.sandbox.smtp_server import SmtpSandbox
from channels.smtp_email import SmtpEmailChannel
from channels.twilio_sms import TwilioSmsChannel
from gateway.config import SANDBOX_ACCOUNT_SID

ISSUE = 4
CAP = 100.0
LATENCY = 0.05
WORKERS = 12  # 50 ms per request: at least 5 in flight for 100/s, more to absorb the GIL's jitter

_ids = itertools.count(1)


def _sms(n: int) -> list[OutgoingMessage]:
    out = []
    for _ in range(n):
        i = next(_ids)
        to = f"+4477009{i % 100000:05d}"
        out.append(OutgoingMessage(i, f"bench-{i}", "sms", to, "Amira was not in school today."))
    return out


@dataclass
class RemoteSandbox:
    """The Twilio sandbox in a child process, driven through its control API."""

    url: str
    auth_token: str

    def reset(self, latency: float) -> None:
        httpx.post(f"{self.url}/_sandbox/reset").raise_for_status()
        httpx.post(f"{self.url}/_sandbox/faults", json={"latency": latency}).raise_for_status()

    def records(self) -> list[dict[str, Any]]:
        reply = httpx.get(f"{self.url}/_sandbox/records", timeout=30)
        reply.raise_for_status()
        records: list[dict[str, Any]] = reply.json()
        return records


@contextmanager
def remote_sandbox() -> Iterator[RemoteSandbox]:
    port = free_port()
    token = secrets.token_urlsafe(32)
    process = subprocess.Popen([sys.executable, "-m", "channels.sandbox.twilio_api", "--port", str(port),
                                "--no-callbacks", "--auth-token", token])
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("the Twilio sandbox did not start") from None
                time.sleep(0.1)
        yield RemoteSandbox(f"http://127.0.0.1:{port}", token)
    finally:
        process.terminate()
        process.wait(timeout=10)


class RecordingLimiter(RateLimiter):
    """Keeps each grant time (the limiter's clock) to count grants per window."""

    def __init__(self, inner: RateLimiter, unit: float) -> None:
        self.inner, self.unit, self.grants = inner, unit, list[float]()
        self.rate = inner.rate

    def acquire(self, timeout: float | None = None) -> int:
        granted = self.inner.acquire(timeout)
        self.grants.append(granted * self.unit)
        return granted

    def close(self) -> None:
        self.inner.close()


def _most_in_any_second(times: Sequence[float]) -> int:
    ordered, most, start = sorted(times), 0, 0
    for end, at in enumerate(ordered):
        while at - ordered[start] >= 1.0:
            start += 1
        most = max(most, end - start + 1)
    return most


def _dispatch(channels: list[TwilioSmsChannel], messages: list[OutgoingMessage], workers: int) -> float:
    """Send ``messages`` from ``workers`` threads spread over ``channels``; return the wall time."""
    queue = list(reversed(messages))
    lock = threading.Lock()

    def worker(channel: TwilioSmsChannel) -> None:
        while True:
            with lock:
                if not queue:
                    return
                message = queue.pop()
            channel.send(message)

    threads = [threading.Thread(target=worker, args=(channels[i % len(channels)],)) for i in range(workers)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - started


def _config(sandbox: RemoteSandbox, **changes: object) -> TwilioConfig:
    values: dict[str, object] = {"account_sid": SANDBOX_ACCOUNT_SID, "auth_token": sandbox.auth_token,
                                 "public_url": "http://127.0.0.1:9", "api_url": sandbox.url,
                                 "from_number": "+447700900000", "mps": CAP, "timeout": 10.0}
    values.update(changes)
    return TwilioConfig(**values)  # type: ignore[arg-type]


def _sms_figures(
    sandbox: RemoteSandbox, label: str, wall: float, count: int, limiters: Sequence[RecordingLimiter]
) -> list[BenchResult]:
    arrivals = [float(r["received_at"]) for r in sandbox.records()]
    most_sliding = _most_in_any_second(arrivals)
    most_granted = _most_in_any_second([t for limiter in limiters for t in limiter.grants])
    per_second = Counter(int(t) for t in arrivals)
    over = sum(1 for c in per_second.values() if c > CAP)
    achieved = count / wall
    note = f"{count} SMS, {WORKERS} threads, sandbox latency {LATENCY * 1000:.0f} ms, {achieved:.1f}/s"
    return [
        BenchResult(ISSUE, f"sms {label}: achieved / cap", achieved / CAP, "ratio", ">= 0.95", achieved / CAP >= 0.95,
                    note),
        BenchResult(ISSUE, f"sms {label}: most permits in any 1 s (limiter clock)", most_granted, "sends",
                    f"<= {CAP:.0f}", most_granted <= CAP, "sliding window over the grant times"),
        BenchResult(ISSUE, f"sms {label}: most arrivals in any 1 s (sandbox)", most_sliding, "sends",
                    f"<= {CAP:.0f}", most_sliding <= CAP,
                    f"sliding window over arrival times; whole-second windows over the cap: {over}"),
    ]


def _sms_benchmarks(quick: bool) -> list[BenchResult]:
    results: list[BenchResult] = []
    count = 300 if quick else 1500
    with remote_sandbox() as sandbox:
        sandbox.reset(LATENCY)
        limiter = RecordingLimiter(RateLimiter(CAP), 1e-9)
        channel = TwilioSmsChannel(_config(sandbox), limiter)
        try:
            channel.send(_sms(1)[0])  # warm the connection and the sandbox
            sandbox.reset(LATENCY)
            limiter.grants.clear()
            wall = _dispatch([channel], _sms(count), WORKERS)
            results += _sms_figures(sandbox, "in-process cap", wall, count, [limiter])
            achieved = count / wall

            sandbox.reset(LATENCY)
            sequential_n = 40 if quick else 100
            started = time.perf_counter()
            for message in _sms(sequential_n):  # what a naive script does: one create after another
                channel.client.messages.create(to=message.to, from_="+447700900000", body=message.text)
            sequential = sequential_n / (time.perf_counter() - started)
            results.append(BenchResult(ISSUE, "sms: dispatcher / sequential loop", achieved / sequential, "ratio", "",
                                       None, f"sequential client.messages.create: {sequential:.1f}/s"))
        finally:
            channel.close()
            limiter.close()

        if REDIS_URL:
            sandbox.reset(LATENCY)
            key = f"bench:{uuid.uuid4().hex}:twilio"
            limiters = [RecordingLimiter(RateLimiter.shared(REDIS_URL, CAP, key=key), 1e-6) for _ in range(2)]
            shared = [TwilioSmsChannel(_config(sandbox), limiter) for limiter in limiters]
            try:
                wall = _dispatch(shared, _sms(count), WORKERS)
                results += _sms_figures(sandbox, "Redis cap, 2 limiters", wall, count, limiters)
            finally:
                for made in shared:
                    made.close()
                for limiter in limiters:
                    limiter.close()
    return results


def _emails(channel: SmtpEmailChannel, first: int, count: int, threads: int) -> float:
    """Send ``count`` e-mails from ``threads`` threads; the wall time it took."""
    messages = [OutgoingMessage(i, f"mail-{i}", "email", f"parent{i}@example.org", "Amira was not in school today.",
                                subject="Absence", html="<p>Amira was not in school today.</p>")
                for i in range(first, first + count)]
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(channel.send, messages))
    return time.perf_counter() - started


def _email_benchmarks(quick: bool) -> list[BenchResult]:
    """Pooled and one-connection-per-message channels take turns, a slice each per round, so that a burst of
    other work on this machine weighs on both figures alike; each rate is its sends over its own time."""
    count, rounds = (200, 2) if quick else (1000, 5)
    threads = 8
    with SmtpSandbox() as server:
        config = SmtpConfig(server.host, server.port, from_address="office@oakfield.sch.uk", starttls="never",
                            pool_size=4)
        channels = {reuse: SmtpEmailChannel(config, reuse_connections=reuse) for reuse in (True, False)}
        seconds = dict.fromkeys(channels, 0.0)
        try:
            for channel in channels.values():
                _emails(channel, 0, 10, threads)  # warm-up
            share = count // rounds
            for n in range(rounds):
                for reuse, channel in channels.items():
                    seconds[reuse] += _emails(channel, n * share, share, threads)
                server.mailbox.clear()
        finally:
            for channel in channels.values():
                channel.close()
    rates = {reuse: count / elapsed for reuse, elapsed in seconds.items()}
    opened = {reuse: channel.connections_opened for reuse, channel in channels.items()}
    note = f"{count} e-mails each, {threads} threads, pool of 4, in {rounds} turns; aiosmtpd sandbox in this process"
    return [
        BenchResult(ISSUE, "email: pooled connections", rates[True], "emails/s", "", None,
                    f"{note}; connections opened {opened[True]}"),
        BenchResult(ISSUE, "email: one connection per message", rates[False], "emails/s", "", None,
                    f"{note}; connections opened {opened[False]}"),
        BenchResult(19, "email: pooled / per-message", rates[True] / rates[False], "ratio", ">= 2",
                    rates[True] >= 2 * rates[False], note),
    ]


def run(quick: bool = False) -> list[BenchResult]:
    """Every channel figure of issue 4."""
    return _sms_benchmarks(quick) + _email_benchmarks(quick)
