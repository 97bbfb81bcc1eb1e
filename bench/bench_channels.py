"""Issue 4: SMS dispatch under the provider's cap, and e-mail throughput with pooled connections.

- SMS: N worker threads send through ``TwilioSmsChannel`` (limiter at TWILIO_MPS = 100) to the Twilio sandbox
  answering after 50 ms. Figures: achieved rate / cap, the most requests the sandbox received in any one
  second (sliding window, and per whole second), and the same run's plain sequential loop over
  ``client.messages.create`` for comparison. With a Redis URL, the cap is also shared by two channels.
- E-mail: messages per second through the aiosmtpd sandbox with pooled connections, beside a new connection
  per message, same threads.
"""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from bench.common import REDIS_URL, BenchResult
from channels.base import OutgoingMessage
from channels.config import SmtpConfig, TwilioConfig
from channels.rate_limit import RateLimiter
from channels.sandbox.smtp_server import SmtpSandbox
from channels.sandbox.twilio_api import TwilioSandbox, start_twilio_sandbox
from channels.smtp_email import SmtpEmailChannel
from channels.twilio_sms import TwilioSmsChannel

ISSUE = 4
CAP = 100.0
LATENCY = 0.05
WORKERS = 12  # 50 ms per request: at least 5 in flight for 100/s, more to absorb the GIL's jitter

_ids = itertools.count(1)


def _sms(n: int) -> list[OutgoingMessage]:
    out = []
    for _ in range(n):
        i = next(_ids)
        out.append(OutgoingMessage(i, f"bench-{i}", "sms", f"+4477009{i % 100000:05d}", "Amira was not in school today."))
    return out


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


def _config(sandbox: TwilioSandbox, **changes: object) -> TwilioConfig:
    values: dict[str, object] = {"account_sid": sandbox.state.account_sid, "auth_token": sandbox.state.auth_token,
                                 "public_url": "http://127.0.0.1:9", "api_url": sandbox.url,
                                 "from_number": "+447700900000", "mps": CAP, "timeout": 10.0}
    values.update(changes)
    return TwilioConfig(**values)  # type: ignore[arg-type]


def _sms_figures(sandbox: TwilioSandbox, label: str, wall: float, count: int) -> list[BenchResult]:
    arrivals = [r.received_at for r in sandbox.state.messages()]
    most_sliding = _most_in_any_second(arrivals)
    per_second = Counter(int(t) for t in arrivals)
    over = sum(1 for c in per_second.values() if c > CAP)
    achieved = count / wall
    note = f"{count} SMS, {WORKERS} threads, sandbox latency {LATENCY * 1000:.0f} ms, {achieved:.1f}/s"
    return [
        BenchResult(ISSUE, f"sms {label}: achieved / cap", achieved / CAP, "ratio", ">= 0.95", achieved / CAP >= 0.95,
                    note),
        BenchResult(ISSUE, f"sms {label}: most sends in any 1 s window", most_sliding, "sends", f"<= {CAP:.0f}",
                    most_sliding <= CAP, f"whole-second windows over the cap: {over}"),
    ]


def _sms_benchmarks(quick: bool) -> list[BenchResult]:
    results: list[BenchResult] = []
    count = 300 if quick else 1500
    with start_twilio_sandbox() as sandbox:
        sandbox.state.send_callbacks = False
        sandbox.state.set_latency(LATENCY)
        channel = TwilioSmsChannel(_config(sandbox))
        try:
            channel.send(_sms(1)[0])  # warm the connection and the sandbox
            sandbox.state.reset()
            sandbox.state.set_latency(LATENCY)
            wall = _dispatch([channel], _sms(count), WORKERS)
            results += _sms_figures(sandbox, "in-process cap", wall, count)
            achieved = count / wall

            sandbox.state.reset()
            sandbox.state.set_latency(LATENCY)
            sequential_n = 40 if quick else 100
            started = time.perf_counter()
            for message in _sms(sequential_n):  # what a naive script does: one create after another
                channel.client.messages.create(to=message.to, from_="+447700900000", body=message.text)
            sequential = sequential_n / (time.perf_counter() - started)
            results.append(BenchResult(ISSUE, "sms: dispatcher / sequential loop", achieved / sequential, "ratio", "",
                                       None, f"sequential client.messages.create: {sequential:.1f}/s"))
        finally:
            channel.close()

        if REDIS_URL:
            sandbox.state.reset()
            sandbox.state.set_latency(LATENCY)
            key = f"bench:{uuid.uuid4().hex}:twilio"
            limiters = [RateLimiter.shared(REDIS_URL, CAP, key=key) for _ in range(2)]
            shared = [TwilioSmsChannel(_config(sandbox), limiter) for limiter in limiters]
            try:
                wall = _dispatch(shared, _sms(count), WORKERS)
                results += _sms_figures(sandbox, "Redis cap, 2 limiters", wall, count)
            finally:
                for made in shared:
                    made.close()
                for limiter in limiters:
                    limiter.close()
    return results


def _emails(channel: SmtpEmailChannel, count: int, threads: int) -> float:
    messages = [OutgoingMessage(i, f"mail-{i}", "email", f"parent{i}@example.org", "Amira was not in school today.",
                                subject="Absence", html="<p>Amira was not in school today.</p>")
                for i in range(count)]
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(channel.send, messages))
    return count / (time.perf_counter() - started)


def _email_benchmarks(quick: bool) -> list[BenchResult]:
    count = 200 if quick else 1000
    threads = 8
    with SmtpSandbox() as server:
        config = SmtpConfig(server.host, server.port, from_address="office@oakfield.sch.uk", starttls="never",
                            pool_size=4)
        rates = {}
        for reuse in (True, False):
            channel = SmtpEmailChannel(config, reuse_connections=reuse)
            try:
                _emails(channel, 10, threads)  # warm-up
                rates[reuse] = _emails(channel, count, threads)
                opened = channel.connections_opened
            finally:
                channel.close()
            server.mailbox.clear()
            rates[(reuse, "opened")] = opened
    note = f"{count} e-mails, {threads} threads, pool of 4; aiosmtpd sandbox on this machine"
    return [
        BenchResult(ISSUE, "email: pooled connections", rates[True], "emails/s", "", None,
                    f"{note}; connections opened {rates[(True, 'opened')]}"),
        BenchResult(ISSUE, "email: one connection per message", rates[False], "emails/s", "", None, note),
        BenchResult(ISSUE, "email: pooled / per-message", rates[True] / rates[False], "ratio", "> 1",
                    rates[True] > rates[False], note),
    ]


def run(quick: bool = False) -> list[BenchResult]:
    """Every channel figure of issue 4."""
    return _sms_benchmarks(quick) + _email_benchmarks(quick)
