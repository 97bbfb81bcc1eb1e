"""The first-day response ladder (``config/escalation.toml``): when each step runs and whom it contacts.

``EscalationLadder.load(path)`` reads and checks the whole file and reports every problem at once as an
``InputError`` (file, key, what is wrong), so a school's edit never half-applies.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from gateway.errors import InputError, NotFoundError, Problem

AUDIENCES = ("primary", "parental_responsibility", "emergency", "dsl")
STEP_KINDS = ("absence_first_day", "absence_followup", "absence_emergency_contact")
CHANNEL_RULES = ("preferred", "next")
DSL_ALERT_KIND = "dsl_alert"


@dataclass(frozen=True)
class LadderStep:
    """One rung: ``after_minutes`` after registers close, contact ``audience`` with ``kind``."""

    number: int  # 1-based, as the CLI's --step counts
    name: str
    after_minutes: int
    audience: str  # one of AUDIENCES
    kind: str  # one of STEP_KINDS, or DSL_ALERT_KIND for the dsl step
    channels: str = "preferred"  # "preferred", or "next": the next channel after those already tried


@dataclass(frozen=True)
class EscalationLadder:
    """Registers-close time, the hours same-day messages may go, the steps, and the routine contact window."""

    registers_close: time
    earliest: time
    latest: time
    steps: tuple[LadderStep, ...]
    continuing_kind: str = "absence_continuing"
    routine_window: tuple[time, time] = (time(8, 0), time(19, 0))
    # When the gateway starts the day's follow-up on its own if nobody in the office has (None: "off", never).
    auto_start: time | None = None

    @classmethod
    def load(cls, path: str | Path) -> EscalationLadder:
        """Parse and check a ladder file; raise InputError listing every problem."""
        source = str(path)
        try:
            with open(path, "rb") as handle:
                data = tomllib.load(handle)
        except FileNotFoundError:
            raise InputError([Problem(source, "", None, "file does not exist")]) from None
        except tomllib.TOMLDecodeError as exc:
            raise InputError([Problem(source, "", None, f"not valid TOML: {exc}")]) from None
        return cls.from_mapping(data, source=source)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], *, source: str = "escalation.toml") -> EscalationLadder:
        """Build from already-parsed TOML (tests); same checks as ``load``."""
        problems: list[Problem] = []

        def clock_time(table: Mapping[str, Any], key: str, where: str, default: str | None = None) -> time:
            raw = table.get(key, default)
            if raw is None:
                problems.append(Problem(source, where, key, "missing (HH:MM)"))
                return time(0, 0)
            parsed = _parse_hhmm(raw)
            if parsed is None:
                problems.append(Problem(source, where, key, f"{raw!r} is not a time of day HH:MM"))
                return time(0, 0)
            return parsed

        registers_close = clock_time(data, "registers_close", "top level")
        earliest = clock_time(data, "earliest", "top level", "07:30")
        latest = clock_time(data, "latest", "top level", "20:00")
        if earliest >= latest:
            problems.append(Problem(source, "top level", "earliest", "must be before latest"))
        auto_start: time | None = None
        raw_auto = data.get("auto_start", "off")
        if raw_auto != "off":
            auto_start = _parse_hhmm(raw_auto)
            if auto_start is None:
                problems.append(Problem(source, "top level", "auto_start",
                                        f"{raw_auto!r} is not a time of day HH:MM or \"off\""))
            elif auto_start < registers_close:
                problems.append(Problem(source, "top level", "auto_start", "must not be before registers_close"))
        continuing_kind = data.get("continuing_kind", "absence_continuing")
        if not isinstance(continuing_kind, str) or not continuing_kind:
            problems.append(Problem(source, "top level", "continuing_kind", "must be a template kind name"))
            continuing_kind = "absence_continuing"
        routine = data.get("routine", {})
        window = (time(8, 0), time(19, 0))
        if not isinstance(routine, Mapping):
            problems.append(Problem(source, "[routine]", None, "must be a table"))
        elif "window" in routine:
            parsed_window = parse_window(routine["window"])
            if parsed_window is None:
                problems.append(Problem(source, "[routine]", "window",
                                        f"{routine['window']!r} is not HH:MM-HH:MM with start before end"))
            else:
                window = parsed_window
        steps = _parse_steps(data.get("step"), source, problems)
        if problems:
            raise InputError(problems)
        return cls(registers_close, earliest, latest, tuple(steps), continuing_kind, window, auto_start)

    @classmethod
    def packaged(cls) -> EscalationLadder:
        """The shipped ``config/escalation.toml`` (used when a caller passes no ladder)."""
        return _packaged_ladder()

    def step(self, number: int) -> LadderStep:
        """Step ``number`` (1-based); NotFoundError naming the valid range otherwise."""
        if not 1 <= number <= len(self.steps):
            raise NotFoundError(f"ladder step {number} does not exist (steps 1-{len(self.steps)})")
        return self.steps[number - 1]

    def step_due(self, day: date, step: LadderStep, tz: ZoneInfo) -> datetime:
        """When the step falls due on ``day``: registers close + after_minutes, local wall-clock time."""
        close = datetime.combine(day, self.registers_close)
        return local_instant(close + timedelta(minutes=step.after_minutes), tz)


@cache
def _packaged_ladder() -> EscalationLadder:
    from gateway.resources import config_dir

    return EscalationLadder.load(config_dir() / "escalation.toml")


def local_instant(wall_clock: datetime, tz: ZoneInfo) -> datetime:
    """The aware instant for a naive local wall-clock time, normalised so a time inside a spring-forward gap
    (a clock time that never happens) moves forward past the gap instead of naming a non-existent instant."""
    return wall_clock.replace(tzinfo=tz).astimezone(UTC).astimezone(tz)


def parse_window(raw: object) -> tuple[time, time] | None:
    """``"08:00-19:00"`` -> (08:00, 19:00); None when malformed or not start < end."""
    if not isinstance(raw, str) or "-" not in raw:
        return None
    start_text, end_text = raw.split("-", 1)
    start, end = _parse_hhmm(start_text.strip()), _parse_hhmm(end_text.strip())
    if start is None or end is None or start >= end:
        return None
    return start, end


def _parse_hhmm(raw: object) -> time | None:
    if isinstance(raw, time):
        return raw
    if not isinstance(raw, str):
        return None
    try:
        hours, minutes = raw.split(":")
        return time(int(hours), int(minutes))
    except ValueError:
        return None


def _parse_steps(raw_steps: object, source: str, problems: list[Problem]) -> list[LadderStep]:
    if not isinstance(raw_steps, list) or not raw_steps:
        problems.append(Problem(source, "[[step]]", None, "at least one [[step]] table is required"))
        return []
    steps: list[LadderStep] = []
    previous_minutes = -1
    for index, raw in enumerate(raw_steps, start=1):
        where = f"[[step]] #{index}"
        if not isinstance(raw, Mapping):
            problems.append(Problem(source, where, None, "must be a table"))
            continue
        unknown = sorted(set(raw) - {"name", "after_minutes", "audience", "kind", "channels"})
        if unknown:
            problems.append(Problem(source, where, unknown[0], "unknown key (name, after_minutes, audience, "
                                                               "kind, channels)"))
        name = raw.get("name")
        if not isinstance(name, str) or not name.strip():
            problems.append(Problem(source, where, "name", "missing: give the step a name"))
            name = f"step {index}"
        after = raw.get("after_minutes")
        if not isinstance(after, int) or isinstance(after, bool) or after < 0:
            problems.append(Problem(source, where, "after_minutes", f"{after!r}: must be a whole number >= 0"))
            after = 0
        elif after < previous_minutes:
            problems.append(Problem(source, where, "after_minutes", "steps must not run earlier than the one "
                                                                    "before"))
        previous_minutes = max(previous_minutes, after)
        audience = raw.get("audience")
        if audience not in AUDIENCES:
            problems.append(Problem(source, where, "audience", f"{audience!r}: use one of {', '.join(AUDIENCES)}"))
            audience = "primary"
        default_kind = DSL_ALERT_KIND if audience == "dsl" else None
        kind = raw.get("kind", default_kind)
        if audience != "dsl" and kind not in STEP_KINDS:
            problems.append(Problem(source, where, "kind", f"{kind!r}: use one of {', '.join(STEP_KINDS)}"))
        channels = raw.get("channels", "preferred")
        if channels not in CHANNEL_RULES:
            problems.append(Problem(source, where, "channels", f"{channels!r}: use preferred or next"))
            channels = "preferred"
        if audience == "dsl" and index != len(raw_steps):
            problems.append(Problem(source, where, "audience", "the dsl alert must be the last step"))
        steps.append(LadderStep(index, name, after, str(audience), str(kind), str(channels)))
    return steps
