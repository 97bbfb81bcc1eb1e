"""The scheduler: the lease, and two ``gateway scheduler`` processes racing over one database."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.models import AbsenceCase, CaseState, DslAlert, OutboxMessage
from gateway.pipeline.scheduler import acquire_lease, release_lease
from tests.pipeline.conftest import add_family

REPO = Path(__file__).resolve().parents[2]


def test_lease_is_held_by_one_holder_until_it_expires(database_url: str) -> None:
    assert acquire_lease("a", seconds=30)
    assert acquire_lease("a", seconds=30)  # renewal
    assert not acquire_lease("b", seconds=30)
    release_lease("a")
    assert acquire_lease("b", seconds=0.0)
    assert acquire_lease("a", seconds=30)  # b's lease had already expired


def gateway_process(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """Start ``gateway <args>`` (through the test stand-in shim) in a child process."""
    handle = open(log, "wb")  # noqa: SIM115 - closed by the child's exit; kept for the failure message
    return subprocess.Popen([sys.executable, "-m", "tests.pipeline.gateway_process", *args], cwd=REPO, env=env,
                            stdout=handle, stderr=subprocess.STDOUT)


def child_env(database_url: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GATEWAY_", "TWILIO_", "SMTP_"))}
    env.update(GATEWAY_DATABASE_URL=database_url, GATEWAY_VAR_DIR=str(tmp_path / "var"),
               GATEWAY_CHANNELS="sandbox", PYTHONPATH=str(REPO))
    env.update(extra)
    return env


@pytest.mark.slow
def test_two_schedulers_never_double_anything(session: Session, database_url: str, tmp_path: Path) -> None:
    family = add_family(session)
    # Gateway time starts a minute before registers close and runs 600x: the whole ladder in ~15 s.
    env = child_env(database_url, tmp_path, GATEWAY_CLOCK="2026-11-23T09:14:00", GATEWAY_CLOCK_SPEED="600",
                    GATEWAY_BROKER_URL="memory://", GATEWAY_SCHEDULER_TICK="0.1",
                    PIPELINE_TEST_STANDINS="render")
    processes = [gateway_process(["scheduler"], env, tmp_path / f"scheduler{i}.log") for i in range(2)]
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            session.expire_all()
            case = session.scalars(select(AbsenceCase)).first()
            if case is not None and case.state is CaseState.DSL_ALERTED:
                break
            assert all(p.poll() is None for p in processes), _logs(tmp_path)
            time.sleep(0.5)
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        codes = [process.wait(timeout=30) for process in processes]
    assert codes == [0, 0], _logs(tmp_path)
    session.expire_all()
    cases = session.scalars(select(AbsenceCase)).all()
    assert len(cases) == 1 and cases[0].state is CaseState.DSL_ALERTED, _logs(tmp_path)
    rows = session.scalars(select(OutboxMessage)).all()
    per_step = Counter((r.step, r.adult_id) for r in rows if r.kind != "dsl_alert")
    assert all(count == 1 for count in per_step.values()), per_step
    assert {(r.step, r.adult_id) for r in rows if r.kind != "dsl_alert"} == {
        (1, family.mum), (2, family.mum), (2, family.dad), (3, family.gran)}
    assert len([r for r in rows if r.kind == "dsl_alert"]) == 1
    assert len(session.scalars(select(DslAlert)).all()) == 1


def _logs(tmp_path: Path) -> str:
    return "\n".join(p.read_text(errors="replace")[-3000:] for p in sorted(tmp_path.glob("*.log")))
