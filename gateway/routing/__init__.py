"""Routing: who is contacted, by which channel, in which language, and when.

Pure functions over frozen facts (``facts``), fed by one bulk loader (``loader``); the absence ladder lives
in ``config/escalation.toml`` (``ladder``). Nothing here sends or writes anything.
"""

from gateway.routing.absence import plan_absence
from gateway.routing.capabilities import STATIC_CAPABILITIES, LocaleCapabilities, capabilities_from_rendering
from gateway.routing.facts import AdultFacts, ContactPointFacts, Households, LinkFacts, PupilFacts
from gateway.routing.fresh_start import AttendanceSummary, HalfTermFacts, plan_fresh_start
from gateway.routing.ladder import EscalationLadder, LadderStep
from gateway.routing.plan import Delivery, Plan, Suppression
from gateway.routing.routine import RoutineSettings, plan_fortnightly_checkin, plan_positive_attendance, plan_routine

__all__ = [
    "STATIC_CAPABILITIES",
    "AdultFacts",
    "AttendanceSummary",
    "ContactPointFacts",
    "Delivery",
    "EscalationLadder",
    "HalfTermFacts",
    "Households",
    "LadderStep",
    "LinkFacts",
    "LocaleCapabilities",
    "Plan",
    "PupilFacts",
    "RoutineSettings",
    "Suppression",
    "capabilities_from_rendering",
    "plan_absence",
    "plan_fortnightly_checkin",
    "plan_fresh_start",
    "plan_positive_attendance",
    "plan_routine",
]
