"""The schema: migrations match the models, and the basic tables work on every backend."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from gateway.models import Adult, Base, ContactKind, ContactPoint, Pupil, PupilContact, Restriction


def test_migrations_match_models(engine: Engine) -> None:
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == [], f"models and migrations differ; run python -m gateway.devtools.regen_migration: {diff}"


def test_one_adult_two_children(session: Session) -> None:
    mum = Adult(forename="Anna", surname="Nowak", language="pl")
    mum.contact_points.append(ContactPoint(kind=ContactKind.MOBILE, value="+447700900123", sms_capable=True))
    for upn, name in (("A123456789012", "Ola"), ("B123456789012", "Kuba")):
        pupil = Pupil(upn=upn, forename=name, surname="Nowak")
        pupil.links.append(PupilContact(adult=mum, relationship_code="PAM", parental_responsibility=True))
        session.add(pupil)
    session.commit()
    adult = session.scalars(select(Adult)).one()
    assert [link.pupil.forename for link in adult.links] == ["Ola", "Kuba"]
    assert adult.links[0].restriction is Restriction.NONE
    assert adult.contact_points[0].value == "+447700900123"
