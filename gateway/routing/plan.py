"""What routing decides: a Plan of Deliveries (who, how, in which language, when, and why) and Suppressions.

``Plan.to_json()`` is the plan document of CONTRACT.md. Additions to that shape (all documented here):
each delivery also carries ``message_kind``, ``fallback_channels`` and ``needs_interpreter`` (and
``days_missed`` per UPN for fresh-start nudges); each suppression carries ``detail``; the plan carries
``alert_dsl`` (the ladder's DSL step) and ``unreached`` (UPNs for whom nobody is being contacted).
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

# Suppression reasons: CONTRACT.md's list plus the documented additions below.
RESTRICTED = "restricted"
OPTED_OUT = "opted_out"
NO_USABLE_CONTACT = "no_usable_contact"
NOT_IN_AUDIENCE = "not_in_audience"
FREQUENCY_CAP = "frequency_cap"
EXCLUDED = "excluded"
AWAITING_DSL_APPROVAL = "awaiting_dsl_approval"  # addition: dsl_approval restriction, approval not recorded
ABOVE_THRESHOLD = "above_threshold"  # addition: attendance last half-term was 95% or better
OUTSIDE_HOURS = "outside_hours"  # addition: no allowed instant left on the day of the absence
NO_ATTENDANCE_DATA = "no_attendance_data"  # addition: no possible sessions recorded last half-term
REASONS = frozenset({
    RESTRICTED, OPTED_OUT, NO_USABLE_CONTACT, NOT_IN_AUDIENCE, FREQUENCY_CAP, EXCLUDED,
    AWAITING_DSL_APPROVAL, ABOVE_THRESHOLD, OUTSIDE_HOURS, NO_ATTENDANCE_DATA,
})


@dataclass(frozen=True, slots=True)
class Delivery:
    """One message to one adult, covering every pupil of theirs it concerns."""

    adult_id: int
    contact_name: str
    relationship: str
    pupil_ids: tuple[int, ...]
    pupils: tuple[str, ...]  # UPNs, same order as pupil_ids
    channel: str  # "sms" | "email" | "voice"
    to: str
    contact_point_id: int
    locale: str
    variant: str  # "standard" | "plain"
    send_at: datetime  # aware, in the school's time zone
    why: str
    fallback_channels: tuple[str, ...] = ()
    message_kind: str = ""
    needs_interpreter: bool = False  # voice had to speak en-GB: staff should call with an interpreter
    days_missed: tuple[float, ...] = ()  # fresh-start: per pupil, same order as pupils

    def to_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "contact_name": self.contact_name,
            "relationship": self.relationship,
            "pupils": list(self.pupils),
            "channel": self.channel,
            "to": self.to,
            "locale": self.locale,
            "variant": self.variant,
            "send_at": self.send_at.isoformat(),
            "why": self.why,
            "message_kind": self.message_kind,
            "fallback_channels": list(self.fallback_channels),
            "needs_interpreter": self.needs_interpreter,
        }
        if self.days_missed:
            pairs = zip(self.pupils, self.days_missed, strict=True)
            document["days_missed"] = {upn: _number(days) for upn, days in pairs}
        return document


@dataclass(frozen=True, slots=True)
class Suppression:
    """An adult in (or linked to) the audience who will not be contacted, and why."""

    adult_id: int
    contact_name: str
    pupils: tuple[str, ...]
    reason: str
    detail: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"contact_name": self.contact_name, "pupils": list(self.pupils), "reason": self.reason,
                "detail": self.detail}


@dataclass(frozen=True)
class Plan:
    """Every adult considered is either in ``deliveries`` or in ``suppressed``; one delivery per adult."""

    kind: str  # "absence" | "fresh_start"
    date: date
    step: int | None
    deliveries: tuple[Delivery, ...]
    suppressed: tuple[Suppression, ...]
    alert_dsl: bool = False
    unreached: tuple[str, ...] = ()  # UPNs no delivery covers (the pipeline alerts the DSL / office)

    def to_json(self) -> dict[str, Any]:
        """The CONTRACT.md plan document (plus the documented additions)."""
        return {
            "kind": self.kind,
            "date": self.date.isoformat(),
            "step": self.step,
            "deliveries": [d.to_json() for d in self.deliveries],
            "suppressed": [s.to_json() for s in self.suppressed],
            "alert_dsl": self.alert_dsl,
            "unreached": list(self.unreached),
        }


def write_plan_json(plan: Plan, write: Callable[[str], object]) -> None:
    """Write ``plan.to_json()`` as one indented JSON document, entry by entry.

    The same document as ``json.dumps(plan.to_json(), indent=2)`` up to key order, without ever holding the
    whole tree or text: a trust-wide fresh-start plan has 180,000 entries.
    """
    write("{\n")
    head = {"kind": plan.kind, "date": plan.date.isoformat(), "step": plan.step, "alert_dsl": plan.alert_dsl,
            "unreached": list(plan.unreached)}
    for key, value in head.items():
        write(f"  {json.dumps(key)}: {json.dumps(value, ensure_ascii=False)},\n")
    sections: tuple[tuple[str, Sequence[Delivery | Suppression]], ...] = (
        ("deliveries", plan.deliveries), ("suppressed", plan.suppressed))
    for number, (key, entries) in enumerate(sections):
        write(f'  "{key}": [')
        for index, entry in enumerate(entries):
            text = json.dumps(entry.to_json(), ensure_ascii=False, indent=2)
            write(("," if index else "") + "\n" + textwrap.indent(text, "    "))
        write("\n  ]" if entries else "]")
        write(",\n" if number < len(sections) - 1 else "\n")
    write("}\n")


def _number(value: float) -> float | int:
    """3.0 -> 3, 3.5 stays 3.5 (days missed are whole or half days)."""
    return int(value) if float(value).is_integer() else value
