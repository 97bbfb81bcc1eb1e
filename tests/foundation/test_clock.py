"""The shared clock: every process of a deployment given the same GATEWAY_CLOCK reads the same time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from gateway.clock import FixedClock, parse_instant, shared_clock


def test_naive_instant_is_read_in_school_time() -> None:
    assert parse_instant("2026-07-01T09:15:00") == datetime(2026, 7, 1, 8, 15, tzinfo=UTC)  # BST
    assert parse_instant("2026-11-23T09:15:00") == datetime(2026, 11, 23, 9, 15, tzinfo=UTC)  # GMT
    assert parse_instant("2026-11-23T09:15:00+00:00") == datetime(2026, 11, 23, 9, 15, tzinfo=UTC)


def test_second_process_uses_the_first_anchor(engine: Engine) -> None:
    start = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
    first = shared_clock(engine, start, 60)
    second = shared_clock(engine, start, 60)
    assert second.real_start == first.real_start
    assert abs(second.now() - first.now()) < timedelta(seconds=5)
    assert first.now() >= start


def test_a_new_drill_re_anchors(engine: Engine) -> None:
    shared_clock(engine, datetime(2026, 11, 23, 8, 0, tzinfo=UTC), 60)
    later = shared_clock(engine, datetime(2026, 11, 24, 8, 0, tzinfo=UTC), 1)
    assert later.gateway_start.day == 24


def test_fixed_clock_moves_only_when_told() -> None:
    clock = FixedClock(datetime(2026, 11, 23, 9, 15, tzinfo=UTC))
    clock.advance(minutes=40)
    assert clock.now() == datetime(2026, 11, 23, 9, 55, tzinfo=UTC)
