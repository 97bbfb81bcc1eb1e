"""The demo school: a believable primary school seeded through the real importers.

About 600 pupils and 1,000 adults from :mod:`gateway.devtools.synthetic_school`, with every situation the
office meets made certain rather than left to chance: siblings absent together, all fifteen community
languages, parents with literacy needs, a landline-only family, a father the DSL has barred from contact
and a non-resident father awaiting DSL approval. Term dates, staff accounts, the last weeks' registers and
today's unexplained absences complete it.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from gateway.devtools.synthetic_school import SyntheticPupil, SyntheticSchool, generate_school
from gateway.importing import import_absences, import_contacts, import_terms
from gateway.models import AttendanceMark, Pupil, School, StaffRole
from gateway.staff import create_staff

DEMO_SCHOOL = "Oakfield Primary School"
DEMO_PUPILS = 600
DEMO_SEED = 7
# (username, role, display name, e-mail); every demo password is DEMO_PASSWORD.
DEMO_STAFF = (
    ("office", StaffRole.OFFICE, "Mrs Sarah Okafor", "office@oakfield.example.org"),
    ("attendance", StaffRole.ATTENDANCE_LEAD, "Mr Tom Reilly", "attendance@oakfield.example.org"),
    ("dsl", StaffRole.DSL, "Ms Priya Raman", "dsl@oakfield.example.org"),
    ("admin", StaffRole.ADMIN, "Mr Alan Hughes", "it@oakfield.example.org"),
)
DEMO_PASSWORD = "oakfield-demo"  # noqa: S105 - a published demo login for a sandbox-only school


@dataclass
class DemoSchool:
    """What was seeded, for the demo's own script and its printout."""

    day: date
    absent_upns: list[str] = field(default_factory=list)
    languages: set[str] = field(default_factory=set)


def school_year_terms(day: date) -> str:
    """A TOML term calendar (six half-terms and INSET days) for the English school year containing ``day``."""
    year = day.year if day.month >= 8 else day.year - 1

    def monday(d: date) -> date:
        return d - timedelta(days=d.weekday())

    def friday(d: date) -> date:
        return monday(d) + timedelta(days=4)

    halves = [
        ("Autumn 1", monday(date(year, 9, 3)) + timedelta(days=1), friday(date(year, 10, 23))),
        ("Autumn 2", monday(date(year, 11, 2)), friday(date(year, 12, 18))),
        ("Spring 1", monday(date(year + 1, 1, 5)) + timedelta(days=1), friday(date(year + 1, 2, 12))),
        ("Spring 2", monday(date(year + 1, 2, 22)), friday(date(year + 1, 3, 26))),
        ("Summer 1", monday(date(year + 1, 4, 12)), friday(date(year + 1, 5, 28))),
        ("Summer 2", monday(date(year + 1, 6, 7)) + timedelta(days=1), friday(date(year + 1, 7, 21))),
    ]
    lines = []
    for name, start, end in halves:
        lines += ["[[half_term]]", f'name = "{name}"', f"start = {start}", f"end = {end}", ""]
    for _name, start, _end in halves:
        if start.weekday() == 1:  # a Tuesday start: the Monday before is an INSET day
            lines += ["[[inset]]", f"date = {start - timedelta(days=1)}", ""]
    return "\n".join(lines)


def _families(school: SyntheticSchool) -> list[list[SyntheticPupil]]:
    """Pupils grouped by their first adult (the generator gives siblings the same adults)."""
    groups: dict[str, list[SyntheticPupil]] = {}
    for pupil in school.pupils:
        groups.setdefault(pupil.links[0].adult.ref, []).append(pupil)
    return list(groups.values())


def _shape(school: SyntheticSchool, rng: random.Random) -> list[list[SyntheticPupil]]:
    """Make the situations the demo must show certain; return the families absent today."""
    families = _families(school)
    by_language: dict[str, list[list[SyntheticPupil]]] = {}
    for family in families:
        by_language.setdefault(family[0].language_dfe, []).append(family)
    absent: list[list[SyntheticPupil]] = []
    for code in sorted(by_language):
        if code != "ENG":
            # Prefer a family with two parents so the ladder has somewhere to climb.
            choices = sorted(by_language[code], key=lambda f: -len(f[0].links))
            absent.append(choices[0])
    # English families with a mother and a father who both hold parental responsibility.
    english = [f for f in by_language.get("ENG", [])
               if len(f[0].links) >= 2 and f[0].links[1].relationship == "PAF" and f[0].links[1].restriction == "none"]
    rng.shuffle(english)
    siblings = next(f for f in english if len(f) >= 2)
    landline, plain, voice, barred, awaiting = english[:5] if siblings not in english[:5] else english[5:10]
    absent += [siblings, landline, plain, voice, barred, awaiting]
    absent += [f for f in english[10:18] if f not in absent]

    carer = landline[0].links[0].adult  # a grandmother's old landline: voice only
    carer.mobile, carer.email, carer.home_phone = None, None, carer.home_phone or "0113 496 0555"
    plain[0].links[0].adult.literacy = "plain"
    voice_adult = voice[0].links[0].adult
    voice_adult.literacy, voice_adult.channels = "voice", "voice,sms,email"
    for family, restriction in ((barred, "no_contact"), (awaiting, "dsl_approval")):
        for pupil in family:
            link = pupil.links[1]
            link.restriction, link.lives_with_pupil = restriction, False
    # Parents who prefer e-mail, so every channel is seen.
    for family in absent[:: max(1, len(absent) // 5)]:
        adult = family[0].links[0].adult
        if adult.email and adult.literacy == "standard":
            adult.channels = "email,sms,voice"
    return absent


def _write_absences(path: Path, families: Iterable[list[SyntheticPupil]], school: SyntheticSchool, day: date) -> None:
    absent = {pupil.upn for family in families for pupil in family}
    rows = ["upn,date,session,code"]
    for pupil in school.pupils:
        code_am, code_pm = ("N", "N") if pupil.upn in absent else ("/", "\\")
        rows += [f"{pupil.upn},{day},AM,{code_am}", f"{pupil.upn},{day},PM,{code_pm}"]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")


def _register_history(session: Session, day: date, rng: random.Random) -> None:
    """Marks for this half-term's school days before ``day`` (most present, some pupils often absent)."""
    pupils = session.execute(select(Pupil.id)).scalars().all()
    weak = set(rng.sample(list(pupils), k=len(pupils) // 8))
    rows = []
    start = day - timedelta(days=21)
    for offset in range((day - start).days):
        d = start + timedelta(days=offset)
        if d.weekday() >= 5:
            continue
        for pupil_id in pupils:
            missing = rng.random() < (0.25 if pupil_id in weak else 0.02)
            code = rng.choice(("I", "N", "O", "M")) if missing else "/"
            rows.append({"pupil_id": pupil_id, "date": d, "session": "AM", "code": code})
            rows.append({"pupil_id": pupil_id, "date": d, "session": "PM", "code": code if missing else "\\"})
    session.execute(insert(AttendanceMark), rows)


def seed_demo_school(session: Session, work_dir: Path, day: date, *, pupils: int = DEMO_PUPILS,
                     seed: int = DEMO_SEED, progress: Callable[[str], None] | None = None) -> DemoSchool:
    """Seed an empty database with the demo school (through the real importers); the caller commits.
    ``progress`` hears each stage as it starts (``make demo`` prints them: seeding takes half a minute)."""
    say = progress or (lambda _stage: None)
    if session.scalar(select(func.count()).select_from(Pupil)):
        raise RuntimeError("the database already has pupils; the demo seeds only an empty database")
    rng = random.Random(seed)
    work_dir.mkdir(parents=True, exist_ok=True)
    say(f"generating {pupils} pupils and their families")
    school = generate_school(pupils, seed, name=DEMO_SCHOOL, primary=True)
    absent = _shape(school, rng)
    session.add(School(name=DEMO_SCHOOL, urn="100007", phone="0113 496 0000", email="office@oakfield.example.org",
                       attendance_officer="Mrs Sarah Okafor"))
    say("importing contacts (as from the MIS)")
    import_contacts(session, school.write_contacts_csv(work_dir / "contacts.csv"))
    terms = work_dir / "terms.toml"
    terms.write_text(school_year_terms(day), encoding="utf-8")
    import_terms(session, terms)
    for username, role, name, email in DEMO_STAFF:
        create_staff(session, username=username, password=DEMO_PASSWORD, role=role, display_name=name, email=email)
    session.flush()
    say("writing this term's registers")
    _register_history(session, day, rng)
    absences = work_dir / "absences.csv"
    _write_absences(absences, absent, school, day)
    say(f"importing {day:%A %-d %B}'s absences")
    import_absences(session, absences)
    return DemoSchool(day=day, absent_upns=[p.upn for f in absent for p in f],
                      languages={f[0].language_dfe for f in absent})
