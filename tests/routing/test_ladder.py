"""The ladder file: the shipped one loads, and a bad one is refused with every problem named."""

from __future__ import annotations

from datetime import time
from pathlib import Path

import pytest

from gateway.errors import InputError, NotFoundError
from gateway.routing import EscalationLadder
from tests.routing.families import LADDER

GOOD = """
registers_close = "09:15"
[[step]]
name = "primary"
after_minutes = 0
audience = "primary"
kind = "absence_first_day"
"""


def test_the_shipped_ladder_closes_registers_at_quarter_past_nine_and_ends_with_the_dsl() -> None:
    assert LADDER.registers_close == time(9, 15)
    assert (LADDER.earliest, LADDER.latest) == (time(7, 30), time(20, 0))
    assert [s.audience for s in LADDER.steps] == ["primary", "parental_responsibility", "emergency", "dsl"]
    assert [s.channels for s in LADDER.steps[:3]] == ["preferred", "next", "preferred"]
    assert LADDER.continuing_kind == "absence_continuing"
    assert LADDER.routine_window == (time(8, 0), time(19, 0))


def test_a_minimal_ladder_gets_the_default_hours(tmp_path: Path) -> None:
    path = tmp_path / "ladder.toml"
    path.write_text(GOOD)
    ladder = EscalationLadder.load(path)
    assert ladder.earliest == time(7, 30) and ladder.steps[0].channels == "preferred"


def test_a_ladder_with_several_mistakes_names_each_one_with_file_and_key(tmp_path: Path) -> None:
    path = tmp_path / "ladder.toml"
    path.write_text("""
registers_close = "9.15"
[[step]]
name = "dsl too early"
after_minutes = 30
audience = "dsl"
[[step]]
name = "primary"
after_minutes = 10
audience = "parents"
kind = "absence_first_day"
channels = "fastest"
""")
    with pytest.raises(InputError) as caught:
        EscalationLadder.load(path)
    lines = [str(p) for p in caught.value.problems]
    assert any(f"{path}: top level: registers_close: '9.15' is not a time of day" in line for line in lines)
    assert any("[[step]] #1: audience: the dsl alert must be the last step" in line for line in lines)
    assert any("[[step]] #2: after_minutes: steps must not run earlier" in line for line in lines)
    assert any("[[step]] #2: audience: 'parents'" in line for line in lines)
    assert any("[[step]] #2: channels: 'fastest'" in line for line in lines)


def test_a_missing_or_broken_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        EscalationLadder.load(tmp_path / "nope.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("registers_close = ")
    with pytest.raises(InputError, match="not valid TOML"):
        EscalationLadder.load(broken)


def test_asking_for_a_step_beyond_the_ladder_names_the_valid_range() -> None:
    with pytest.raises(NotFoundError, match=r"steps 1-4"):
        LADDER.step(5)
