"""Issue 19: speed at the provider's cap, through the whole send path.

For each backend -- the embedded default (SQLite and the in-process ``memory://`` broker: ``gateway absences
start`` runs the Dramatiq worker in its own process, as one school runs it) and PostgreSQL + Redis with two
``gateway worker`` processes -- each far-end latency (100 ms, 300 ms) and each cap (``TWILIO_MPS`` 10, 50,
100): import a synthetic school's CTF, import one day's register, run ``gateway absences start``, and let the
pipeline (outbox → Dramatiq actors → the real Twilio client) send every first contact to the Twilio sandbox,
which runs in a process of its own and answers each create after the latency. E-mails go to the SMTP sandbox.

Per cell: the texts per second the provider saw (first to last arrival) and that as a fraction of the cap
(target ≥ 0.95); the most texts arriving in any sliding second (must not exceed the cap); and the time from
``absences start`` to the last first contact accepted (the provider's answer to the last text). Every text
must reach the provider exactly once (counted by idempotency key).

PostgreSQL + Redis needs GATEWAY_BENCH_DATABASE_URL / GATEWAY_BENCH_REDIS_URL (or the TEST ones). The Redis
part runs a private ``redis-server`` when one is installed (CLI processes use the fixed ``gateway`` broker
namespace, so a shared Redis would mix with anything else using it), else the configured server.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import httpx
from sqlalchemy import create_engine, func, select
from sqlalchemy.engine import Engine

from bench.common import PG_URL, REDIS_URL, BenchResult
from channels.rate_limit import SLACK_INTERVALS
from channels.sandbox.runner import free_port
from gateway.config import load_settings
from gateway.devtools.synthetic_school import SyntheticSchool, generate_school
from gateway.models import AbsenceCase, OutboxMessage, OutboxState

ISSUE = 19
REPO = Path(__file__).resolve().parent.parent
FIRST_DAY = date(2026, 11, 30)  # a Monday; each cell uses the next school day, so each is a fresh morning
LATENCIES = (0.1, 0.3)
CAPS = (10, 50, 100)
TARGET_FRACTION = 0.95
SMS_PER_ABSENT_PUPIL = 0.7  # first-contact texts per absent pupil in the synthetic school (siblings share one)
DONE_STATES = (OutboxState.ACCEPTED, OutboxState.DELIVERED)


@dataclass(frozen=True)
class Plan:
    """What one run measures: the cells, how many texts each aims at, the school's size."""

    latencies: tuple[float, ...]
    caps: tuple[int, ...]
    seconds_at_cap: float  # each cell sends about cap × this many texts
    pupils: int

    def texts_for(self, cap: int) -> int:
        return max(40, round(cap * self.seconds_at_cap))


FULL = Plan(LATENCIES, CAPS, seconds_at_cap=12, pupils=4_000)
QUICK = Plan((0.3,), (50,), seconds_at_cap=2.5, pupils=600)


@dataclass
class CellResult:
    """One backend × latency × cap."""

    backend: str
    latency: float
    cap: int
    texts: int  # first-contact texts accepted (e-mails and calls of the same step are sent too, not counted)
    other_messages: int
    provider_rate: float  # texts/s arriving at the provider, after the limiter's initial burst
    max_in_a_second: int  # the most arrivals in any sliding one-second window
    start_to_first_text: float  # seconds from `absences start` to the first text's arrival (the planning)
    start_to_last_accepted: float  # seconds from `absences start` to the provider's answer to the last text
    duplicates: dict[str, int] = field(default_factory=dict)

    @property
    def fraction(self) -> float:
        return self.provider_rate / self.cap

    @property
    def ok(self) -> bool:
        return self.fraction >= TARGET_FRACTION and self.max_in_a_second <= self.cap and not self.duplicates

    def label(self) -> str:
        return f"{self.backend}, {self.latency * 1000:.0f} ms, {self.cap} MPS"


def max_in_sliding_second(arrivals: list[float]) -> int:
    """The most arrivals inside any one-second window [t, t + 1)."""
    times = sorted(arrivals)
    best, start = 0, 0
    for end, moment in enumerate(times):
        while moment - times[start] >= 1.0:
            start += 1
        best = max(best, end - start + 1)
    return best


def school_days(first: date) -> Iterator[date]:
    day = first
    while True:
        if day.weekday() < 5:
            yield day
        day += timedelta(days=1)


def _gateway(args: list[str], env: dict[str, str], timeout: float = 300) -> str:
    done = subprocess.run([sys.executable, "-m", "gateway.cli.main", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"gateway {' '.join(args)} exited {done.returncode}\n{done.stdout}\n{done.stderr[-3000:]}")
    return done.stdout


class _Process:
    """A background process whose output goes to a log file; stop() sends SIGTERM and waits."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.log = log
        self._handle = log.open("wb")
        self.process = subprocess.Popen(args, cwd=REPO, env=env, stdout=self._handle, stderr=subprocess.STDOUT)

    def wait_for_output(self, text: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.log.read_text(errors="replace"):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{self.log.name}: no {text!r}\n{self.log.read_text(errors='replace')[-3000:]}")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self._handle.close()


class _FarEnd:
    """The Twilio sandbox in its own process (so it never competes with the gateway for the GIL)."""

    def __init__(self, stack: ExitStack, env: dict[str, str], token: str, workdir: Path) -> None:
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        process = _Process([sys.executable, "-m", "channels.sandbox.twilio_api", "--port", str(port),
                            "--no-callbacks", "--auth-token", token], env, workdir / "twilio-sandbox.log")
        stack.callback(process.stop)
        self.http = stack.enter_context(httpx.Client(base_url=self.url, timeout=30))
        deadline = time.monotonic() + 30
        while True:
            try:
                self.http.post("/_sandbox/reset").raise_for_status()
                break
            except httpx.TransportError:
                if process.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(process.log.read_text(errors="replace")) from None
                time.sleep(0.1)

    def prepare(self, latency: float) -> None:
        self.http.post("/_sandbox/reset").raise_for_status()
        self.http.post("/_sandbox/faults", json={"latency": latency}).raise_for_status()

    def texts(self) -> list[dict[str, object]]:
        records: list[dict[str, object]] = self.http.get("/_sandbox/records").json()
        return [r for r in records if r["kind"] == "message"]


@dataclass
class _Backend:
    name: str
    env: dict[str, str]
    engine: Engine
    workers: int  # separate `gateway worker` processes; 0: `absences start` sends in its own process


def _day_rows(engine: Engine, day: date) -> dict[OutboxState, int]:
    with engine.connect() as conn:
        rows = conn.execute(select(OutboxMessage.state, func.count()).join(
            AbsenceCase, AbsenceCase.id == OutboxMessage.case_id).where(AbsenceCase.date == day)
            .group_by(OutboxMessage.state)).all()
    return {OutboxState(state): int(count) for state, count in rows}


def _day_channels(engine: Engine, day: date) -> dict[str, int]:
    with engine.connect() as conn:
        rows = conn.execute(select(OutboxMessage.channel, func.count()).join(
            AbsenceCase, AbsenceCase.id == OutboxMessage.case_id).where(AbsenceCase.date == day)
            .group_by(OutboxMessage.channel)).all()
    return {str(channel): int(count) for channel, count in rows}


def _wait_until_sent(engine: Engine, day: date, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        states = _day_rows(engine, day)
        if states and set(states) <= set(DONE_STATES):
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"not all sent in {timeout:.0f} s: {states}")
        time.sleep(0.1)


def run_cell(backend: _Backend, far_end: _FarEnd, school: SyntheticSchool, plan: Plan, day: date,
             latency: float, cap: int, workdir: Path) -> CellResult:
    """One cell: the day's register imported, then `absences start` timed to the last text accepted."""
    share = min(0.9, plan.texts_for(cap) / (plan.pupils * SMS_PER_ABSENT_PUPIL))
    register = school.write_absences_csv(workdir / f"absences-{day}.csv", day, absent_share=share)
    env = {**backend.env, "TWILIO_MPS": str(cap), "GATEWAY_CLOCK": f"{day.isoformat()}T09:30:00"}
    _gateway(["import", "absences", str(register), "--json"], env)
    far_end.prepare(latency)
    workers: list[_Process] = []
    try:
        for n in range(backend.workers):
            worker = _Process([sys.executable, "-m", "gateway.cli.main", "worker"], env,
                              workdir / f"worker-{day}-{n}.log")
            workers.append(worker)
        for worker in workers:
            worker.wait_for_output("worker started")
        started = time.time()
        _gateway(["absences", "start", "--date", day.isoformat(), "--json"], env)
        _wait_until_sent(backend.engine, day, timeout=120 + 3 * plan.texts_for(cap) / cap)
    finally:
        for worker in workers:
            worker.stop()
    texts = far_end.texts()
    arrivals = sorted(float(str(r["received_at"])) for r in texts)
    (workdir / f"arrivals-{day}.json").write_text(json.dumps(arrivals))
    keys: dict[str, int] = {}
    for record in texts:
        key = str(record["idempotency_key"])
        keys[key] = keys.get(key, 0) + 1
    channels = _day_channels(backend.engine, day)
    if len(keys) != channels.get("sms", 0):
        raise RuntimeError(f"{len(keys)} texts reached the provider, {channels.get('sms', 0)} were planned")
    # The limiter lets SLACK_INTERVALS permits through at once after idling: the steady rate starts after them.
    steady = arrivals[SLACK_INTERVALS:]
    span = steady[-1] - steady[0] if len(steady) > 1 else 0.0
    return CellResult(
        backend=backend.name, latency=latency, cap=cap, texts=len(arrivals),
        other_messages=sum(channels.values()) - channels.get("sms", 0),
        provider_rate=(len(steady) - 1) / span if span > 0 else 0.0,
        max_in_a_second=max_in_sliding_second(arrivals),
        start_to_first_text=arrivals[0] - started, start_to_last_accepted=arrivals[-1] + latency - started,
        duplicates={key: n for key, n in keys.items() if n != 1})


@contextmanager
def _smtp_sandbox() -> Iterator[tuple[str, int]]:
    from channels.sandbox.smtp_server import start_smtp_sandbox

    sandbox = start_smtp_sandbox(port=free_port())
    try:
        yield sandbox.host, sandbox.port
    finally:
        sandbox.stop()


def _base_env(workdir: Path, database_url: str, broker_url: str, smtp: tuple[str, int]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GATEWAY_", "TWILIO_", "SMTP_"))}
    env.update(GATEWAY_DATABASE_URL=database_url, GATEWAY_BROKER_URL=broker_url, GATEWAY_CHANNELS="sandbox",
               GATEWAY_VAR_DIR=str(workdir / "var"), SMTP_HOST=smtp[0], SMTP_PORT=str(smtp[1]),
               PYTHONPATH=str(REPO))
    return env


@contextmanager
def _redis_url(workdir: Path) -> Iterator[str]:
    assert REDIS_URL is not None
    if shutil.which("redis-server") is None:
        yield REDIS_URL
        return
    from gateway.devtools.private_redis import PrivateRedis

    server = PrivateRedis(workdir)
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


def run_backend(name: str, plan: Plan, school: SyntheticSchool, ctf: Path, workdir: Path,
                extra_env: dict[str, str] | None = None) -> list[CellResult]:
    """Every cell of ``plan`` on one backend: ``embedded`` or ``postgresql+redis``."""
    from gateway.devtools.scratch_db import scratch_postgres_database

    workdir.mkdir(parents=True, exist_ok=True)
    results: list[CellResult] = []
    with ExitStack() as stack:
        smtp = stack.enter_context(_smtp_sandbox())
        if name == "embedded":
            database_url, broker_url, workers = f"sqlite:///{workdir / 'gateway.db'}", "memory://", 0
        else:
            assert PG_URL is not None
            database_url = stack.enter_context(scratch_postgres_database(PG_URL, prefix="gwbench", migrate=False))
            broker_url, workers = stack.enter_context(_redis_url(workdir)), 2
        env = {**_base_env(workdir, database_url, broker_url, smtp), **(extra_env or {})}
        _gateway(["db", "upgrade"], env)
        _gateway(["import", "ctf", str(ctf), "--json"], env)
        _, token = load_settings(channels="sandbox", var_dir=env["GATEWAY_VAR_DIR"], twilio_account_sid=None,
                                 twilio_auth_token=None).twilio_credentials()
        far_end = _FarEnd(stack, env, token, workdir)
        env["TWILIO_API_URL"] = far_end.url
        engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://", 1))
        stack.callback(engine.dispose)
        backend = _Backend(name, env, engine, workers)
        days = school_days(FIRST_DAY)
        for latency in plan.latencies:
            for cap in plan.caps:
                result = run_cell(backend, far_end, school, plan, next(days), latency, cap, workdir)
                print(f"  {result.label()}: {result.texts} texts, {result.provider_rate:.1f}/s = "
                      f"{result.fraction:.2f} of the cap, max {result.max_in_a_second} in a second; from absences "
                      f"start: first text {result.start_to_first_text:.1f} s, last accepted "
                      f"{result.start_to_last_accepted:.1f} s", flush=True)
                results.append(result)
    return results


BACKENDS = ("embedded", "postgresql+redis")


def run_plan(plan: Plan, workdir: Path, backends: tuple[str, ...] = BACKENDS,
             extra_env: dict[str, str] | None = None) -> list[CellResult]:
    """Each of ``backends`` (PostgreSQL + Redis only when configured)."""
    school = generate_school(plan.pupils, seed=19)
    ctf = school.write_ctf(workdir / "school.xml")
    results: list[CellResult] = []
    if "embedded" in backends:
        results += run_backend("embedded", plan, school, ctf, workdir / "embedded", extra_env)
    if "postgresql+redis" not in backends:
        pass  # not asked for
    elif PG_URL and REDIS_URL:
        results += run_backend("postgresql+redis", plan, school, ctf, workdir / "postgresql", extra_env)
    else:
        print("  PostgreSQL + Redis skipped: set GATEWAY_BENCH_DATABASE_URL and GATEWAY_BENCH_REDIS_URL "
              "(or the TEST ones)", flush=True)
    return results


def as_bench_results(cells: list[CellResult]) -> list[BenchResult]:
    results: list[BenchResult] = []
    for cell in cells:
        note = (f"{cell.texts} texts at {cell.provider_rate:.1f}/s (+{cell.other_messages} e-mails/calls); "
                f"max {cell.max_in_a_second} in a sliding second; absences start → first text "
                f"{cell.start_to_first_text:.1f} s, → last text accepted {cell.start_to_last_accepted:.1f} s")
        if cell.duplicates:
            note += f"; DUPLICATES {len(cell.duplicates)}"
        results.append(BenchResult(ISSUE, f"send path at the cap ({cell.label()})", cell.fraction, "of cap",
                                   f">= {TARGET_FRACTION}, <= cap in any second", cell.ok, note))
    return results


def run(quick: bool = False) -> list[BenchResult]:
    with tempfile.TemporaryDirectory(prefix="gwbench-send-") as tmp:
        cells = run_plan(QUICK if quick else FULL, Path(tmp))
    return as_bench_results(cells)


def main(argv: list[str] | None = None) -> None:
    """``python -m bench.bench_send_path [--quick] [--seconds S] [--only embedded|postgresql+redis]``: print
    every cell as a JSON line (``--seconds``: each cell sends about cap × S texts instead of the full 12 s)."""
    import argparse
    from dataclasses import replace

    parser = argparse.ArgumentParser(prog="python -m bench.bench_send_path")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--seconds", type=float)
    parser.add_argument("--backend", choices=BACKENDS, action="append", help="only this backend (repeatable)")
    parser.add_argument("--latency", type=float, action="append", help="only this latency in s (repeatable)")
    parser.add_argument("--cap", type=int, action="append", help="only this cap (repeatable)")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it (the processes' logs)")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                        help="a setting for every gateway process (e.g. GATEWAY_WORKER_THREADS=8)")
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL
    if args.seconds:
        plan = replace(plan, seconds_at_cap=args.seconds)
    if args.latency:
        plan = replace(plan, latencies=tuple(args.latency))
    if args.cap:
        plan = replace(plan, caps=tuple(args.cap))
    backends = tuple(args.backend or BACKENDS)
    with ExitStack() as stack:
        if args.keep:
            args.keep.mkdir(parents=True, exist_ok=True)
            workdir = args.keep
        else:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="gwbench-send-")))
        extra_env = dict(item.split("=", 1) for item in args.env)
        for cell in run_plan(plan, workdir, backends, extra_env):
            print(json.dumps({**cell.__dict__, "fraction": round(cell.fraction, 3), "ok": cell.ok}))


if __name__ == "__main__":
    main()
