"""Helpers for running the documented multi-machine topology (docs/OPERATIONS.md, deploy/Procfile) locally.

Every gateway process here is the real ``gateway`` command (``python -m gateway.cli.main …``) in a child
process: no test stand-ins. ``PrivateRedis`` comes from tests/private_redis.py.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from channels.twilio_signature import compute_signature
from gateway.devtools.scratch_db import scratch_postgres_database

REPO = Path(__file__).resolve().parents[2]
# Addresses and Message-IDs never contain a number the test did not put there: the outbox id is the idstring.
MESSAGE_ID_OUTBOX = re.compile(r"gw(\d+)@")


@contextmanager
def scratch_postgres(server_url: str) -> Iterator[str]:
    """An empty PostgreSQL database beside ``server_url``, dropped after. Unlike the ``postgres_database``
    fixture it is *not* migrated: ``gateway db upgrade`` does that, as in a real deployment."""
    with scratch_postgres_database(server_url, prefix="gwtopo", migrate=False) as url:
        yield url


def base_env(**settings: str) -> dict[str, str]:
    """This environment without any gateway, Twilio or SMTP setting, plus ``settings``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GATEWAY_", "TWILIO_", "SMTP_"))}
    env.update(settings)
    return env


def run_gateway(args: list[str], env: dict[str, str], cwd: Path, timeout: float = 60) -> str:
    """Run one ``gateway`` command to completion; return its stdout (raise with its output if it failed)."""
    done = subprocess.run([sys.executable, "-m", "gateway.cli.main", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise AssertionError(f"gateway {' '.join(args)} exited {done.returncode}\n{done.stdout}\n{done.stderr}")
    return done.stdout


@dataclass
class GatewayProcess:
    """One long-running ``gateway`` process of the topology (stdout and stderr into ``log``)."""

    name: str
    args: list[str]
    log: Path
    process: subprocess.Popen[bytes] | None = None
    exit_code: int | None = None

    def start(self, env: dict[str, str], cwd: Path) -> GatewayProcess:
        handle = self.log.open("wb")
        try:
            self.process = subprocess.Popen([sys.executable, "-m", "gateway.cli.main", *self.args], cwd=cwd,
                                            env=env, stdout=handle, stderr=subprocess.STDOUT)
        finally:
            handle.close()  # the child has its own copy
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def signal(self, signum: int) -> None:
        if self.alive():
            assert self.process is not None
            self.process.send_signal(signum)

    def wait(self, timeout: float) -> int:
        assert self.process is not None
        self.exit_code = self.process.wait(timeout=timeout)
        return self.exit_code

    def stop(self, timeout: float = 30) -> int | None:
        """SIGTERM and wait (SIGKILL if it will not stop); the exit code, or None if it never started."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                return self.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.wait(10)
                raise
        return self.wait(0)

    def tail(self, chars: int = 3000) -> str:
        try:
            return f"--- {self.name} ---\n" + self.log.read_text(errors="replace")[-chars:]
        except FileNotFoundError:
            return f"--- {self.name}: no log ---"


def logs(processes: list[GatewayProcess], chars: int = 2500) -> str:
    return "\n".join(p.tail(chars) for p in processes)


def wait_until_healthy(url: str, process: GatewayProcess, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not process.alive():
            raise AssertionError(f"{process.name} exited early\n{process.tail()}")
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{url}/healthz never answered 200\n{process.tail()}")


@dataclass
class HealthWatch:
    """Polls ``/healthz`` in a thread; every answer that is not 200 (or no answer) is kept."""

    url: str
    interval: float = 0.25
    checks: int = 0
    failures: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> HealthWatch:
        self._thread = threading.Thread(target=self._run, name="healthz-watch", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        started = time.monotonic()
        with httpx.Client(timeout=5) as client:
            while not self._stop.is_set():
                try:
                    status = client.get(f"{self.url}/healthz").status_code
                    if status != 200:
                        self.failures.append(f"{time.monotonic() - started:.1f}s: HTTP {status}")
                except httpx.HTTPError as exc:
                    self.failures.append(f"{time.monotonic() - started:.1f}s: {type(exc).__name__}")
                self.checks += 1
                self._stop.wait(self.interval)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)


def post_parent_text(web_url: str, public_url: str, auth_token: str, *, sender: str, to: str,
                     body: str) -> httpx.Response:
    """A parent's text as Twilio delivers it: signed over the public URL with the account's auth token."""
    path = "/webhooks/twilio/sms"
    params = {"MessageSid": f"SM{uuid.uuid4().hex}", "AccountSid": "AC" + "0" * 32, "From": sender, "To": to,
              "Body": body, "NumMedia": "0"}
    signature = compute_signature(auth_token, public_url + path, params)
    return httpx.post(web_url + path, data=params, headers={"X-Twilio-Signature": signature}, timeout=10)


def gateway_now(engine: Engine) -> datetime | None:
    """The deployment's shared clock, read from its anchor as every gateway process reads it (None before
    the first process has anchored it)."""
    from gateway.models.system import ClockAnchor

    with Session(engine) as session:
        anchor = session.scalar(select(ClockAnchor).where(ClockAnchor.id == 1))
        if anchor is None:
            return None
        elapsed = datetime.now(UTC) - anchor.real_start
        return anchor.gateway_start + timedelta(seconds=elapsed.total_seconds() * anchor.speed)


def lease_holder_pid(engine: Engine, name: str = "scheduler") -> int | None:
    """The pid in the scheduler lease's holder (``host:pid:nonce``), while the lease is unexpired."""
    from gateway.models import Lease

    with Session(engine) as session:
        lease = session.get(Lease, name)
        if lease is None or lease.expires_at <= datetime.now(UTC):
            return None
        return int(lease.holder.split(":")[1])


def wait_for(predicate: object, *, timeout: float, what: str, poll: float = 0.2,
             processes: list[GatewayProcess] | None = None) -> None:
    """Poll ``predicate()`` until true; fail naming ``what`` (with the processes' logs) after ``timeout``."""
    assert callable(predicate)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(poll)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}\n{logs(processes or [])}")
