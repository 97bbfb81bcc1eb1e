"""``gateway plan absence`` / ``gateway plan fresh-start`` on a small seeded school: the CONTRACT.md JSON."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy.orm import Session

from gateway import clock as gateway_clock
from gateway.cli.main import main
from tests.routing.seed import AMIRA, KUBA, OLA, seed_school

DELIVERY_KEYS = {"contact_name", "relationship", "pupils", "channel", "to", "locale", "variant", "send_at", "why"}


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as done:
        main(list(argv))
    captured = capsys.readouterr()
    return int(done.value.code or 0), captured.out, captured.err


@pytest.fixture
def school(session: Session) -> None:
    seed_school(session)
    # Early on the morning of the absences: each step is planned for when it falls due.
    gateway_clock.set_clock(gateway_clock.FixedClock(datetime(2026, 11, 23, 7, 0, tzinfo=UTC)))


def _by_name(document: dict[str, Any], key: str) -> dict[str, dict[str, Any]]:
    return {entry["contact_name"]: entry for entry in document[key]}


@pytest.mark.usefixtures("school")
def test_plan_absence_step_one_texts_the_mother_once_for_both_children_in_polish(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(capsys, "plan", "absence", "--date", "2026-11-23", "--json")
    assert code == 0
    document = json.loads(out)
    assert (document["kind"], document["date"], document["step"]) == ("absence", "2026-11-23", 1)
    deliveries = _by_name(document, "deliveries")
    assert set(deliveries) == {"Anna Nowak", "Ayesha Khan"}
    anna = deliveries["Anna Nowak"]
    assert set(anna) >= DELIVERY_KEYS
    assert (anna["channel"], anna["to"], anna["locale"], anna["relationship"]) == ("sms", "+447700900123", "pl",
                                                                                    "PAM")
    assert sorted(anna["pupils"]) == [OLA, KUBA]
    assert anna["send_at"] == "2026-11-23T09:15:00+00:00"
    ayesha = deliveries["Ayesha Khan"]
    assert (ayesha["channel"], ayesha["variant"], ayesha["pupils"]) == ("email", "plain", [AMIRA])
    suppressed = _by_name(document, "suppressed")
    assert suppressed["Piotr Nowak"]["reason"] == "restricted"
    assert suppressed["Abdi Hassan"]["reason"] == "not_in_audience"
    assert all({"contact_name", "pupils", "reason"} <= set(s) for s in document["suppressed"])


@pytest.mark.usefixtures("school")
def test_plan_absence_for_one_pupil_at_the_emergency_step_calls_the_grandfather_with_an_interpreter_flag(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(capsys, "plan", "absence", "--date", "2026-11-23", "--pupil", AMIRA, "--step", "3",
                       "--json")
    assert code == 0
    document = json.loads(out)
    abdi = _by_name(document, "deliveries")["Abdi Hassan"]
    assert (abdi["channel"], abdi["locale"], abdi["needs_interpreter"]) == ("voice", "en-GB", True)
    assert abdi["send_at"] == "2026-11-23T10:45:00+00:00"
    assert abdi["message_kind"] == "absence_emergency_contact"


@pytest.mark.usefixtures("school")
def test_plan_absence_with_an_unknown_upn_fails_clearly(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "plan", "absence", "--date", "2026-11-23", "--pupil", "Z999999999999", "--json")
    assert code != 0 and out == ""
    assert "unknown pupil UPN: Z999999999999" in err


@pytest.mark.usefixtures("school")
def test_plan_absence_with_a_step_beyond_the_ladder_fails_clearly(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "plan", "absence", "--date", "2026-11-23", "--step", "9")
    assert code != 0 and "ladder step 9 does not exist" in err


@pytest.mark.usefixtures("school")
def test_plan_fresh_start_nudges_below_ninety_five_percent_after_the_inset_day(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(capsys, "plan", "fresh-start", "--date", "2026-12-20", "--json")
    assert code == 0
    document = json.loads(out)
    assert (document["kind"], document["date"]) == ("fresh_start", "2027-01-04")
    deliveries = _by_name(document, "deliveries")
    assert set(deliveries) == {"Anna Nowak", "Ayesha Khan"}
    anna = deliveries["Anna Nowak"]
    assert set(anna) >= DELIVERY_KEYS
    assert anna["pupils"] == [OLA] and anna["days_missed"] == {OLA: 4}  # Kuba was above 95%
    assert anna["send_at"] == "2027-01-05T08:00:00+00:00"  # 4 January is an INSET day
    ayesha = deliveries["Ayesha Khan"]
    assert ayesha["send_at"] == "2027-01-05T17:00:00+00:00"  # her own window, 17:00-19:00
    suppressed = _by_name(document, "suppressed")
    assert (suppressed["Piotr Nowak"]["reason"], suppressed["Abdi Hassan"]["reason"]) == ("restricted",
                                                                                          "not_in_audience")


@pytest.mark.usefixtures("school")
def test_plan_fresh_start_without_a_following_half_term_fails_clearly(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "plan", "fresh-start", "--date", "2027-06-01", "--json")
    assert code != 0 and "no half-term starts on or after 2027-06-01" in err


@pytest.mark.usefixtures("school")
def test_plan_absence_without_json_prints_a_readable_summary(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "plan", "absence", "--date", "2026-11-23")
    assert code == 0
    assert out.startswith("absence step 1 for 2026-11-23: 2 deliveries, 2 suppressed")
    assert "not contacted: Piotr Nowak" in out
