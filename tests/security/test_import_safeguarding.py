"""Imports hold safeguarding: a restriction change from a file never brings back an old DSL approval, and an
address a restricted adult holds, brought in by a file on someone else's record, is kept blocked and reported."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway import clock
from gateway.importing import import_contacts, import_ctf
from gateway.models import Adult, PupilContact, Restriction
from gateway.safeguarding import blocked_addresses, blocked_reason
from tests.importing.helpers import contact_row, ctf_contact, ctf_document, ctf_phone, ctf_pupil, write_contacts

MUM, DAD = "C1", "C9"
DAD_MOBILE = "07700 900555"
DAD_E164 = "+447700900555"


def _family(tmp_path: Path, *, dad_restriction: str, mum: dict[str, str] | None = None) -> Path:
    rows = [contact_row(1, **(mum or {})),
            contact_row(1, contact_ref=DAD, forename="Dad", relationship="PAF", mobile=DAD_MOBILE,
                        email="dad@example.com", restriction=dad_restriction)]
    return write_contacts(tmp_path / "contacts.csv", rows)


def _dads_link(session: Session) -> PupilContact:
    return session.scalars(select(PupilContact).join(Adult).where(Adult.external_ref == DAD)).one()


def _approve(session: Session, link: PupilContact) -> None:
    link.dsl_approved_at, link.dsl_approved_by = clock.now(), None
    session.commit()


def test_csv_restriction_change_clears_dsl_approval_so_it_never_comes_back(session: Session, tmp_path: Path) -> None:
    import_contacts(session, _family(tmp_path, dad_restriction="dsl_approval"))
    session.commit()
    link = _dads_link(session)
    _approve(session, link)
    assert blocked_reason(session, link.adult_id) is None  # approved: contactable

    import_contacts(session, _family(tmp_path, dad_restriction="no_contact"))
    session.commit()
    import_contacts(session, _family(tmp_path, dad_restriction="dsl_approval"))
    session.commit()
    session.refresh(link)
    assert link.restriction is Restriction.DSL_APPROVAL
    assert (link.dsl_approved_at, link.dsl_approved_by) == (None, None)
    assert blocked_reason(session, link.adult_id) == "awaiting_dsl_approval"


def test_csv_reimport_with_unchanged_restriction_keeps_dsl_approval(session: Session, tmp_path: Path) -> None:
    path = _family(tmp_path, dad_restriction="dsl_approval")
    import_contacts(session, path)
    session.commit()
    link = _dads_link(session)
    _approve(session, link)
    summary = import_contacts(session, path)
    session.commit()
    session.refresh(link)
    assert link.dsl_approved_at is not None and not summary.changed


def test_ctf_never_lifts_a_restriction_or_its_approval_state(session: Session, tmp_path: Path) -> None:
    import_contacts(session, _family(tmp_path, dad_restriction="no_contact"))
    session.commit()
    ctf = ctf_document(ctf_pupil("A000000000001", "Pupil1", "Smith",
                                 ctf_contact("Dad", "Smith", ctf_phone(DAD_MOBILE), relationship="PAF")))
    path = tmp_path / "school.xml"
    path.write_text(ctf, encoding="utf-8")
    import_ctf(session, path)
    session.commit()
    assert _dads_link(session).restriction is Restriction.NO_CONTACT


def test_import_putting_restricted_fathers_number_on_mothers_record_keeps_it_blocked_and_warns(
    session: Session, tmp_path: Path
) -> None:
    import_contacts(session, _family(tmp_path, dad_restriction="no_contact"))
    session.commit()
    summary = import_contacts(session, _family(tmp_path, dad_restriction="no_contact",
                                               mum={"mobile": DAD_MOBILE, "email": "DAD@example.com"}))
    session.commit()
    mum = session.scalars(select(Adult).where(Adult.external_ref == MUM)).one()
    assert {p.value for p in mum.contact_points} == {DAD_E164, "DAD@example.com"}  # kept as the file says
    assert {DAD_E164, "dad@example.com"} <= set(blocked_addresses(session))  # and blocked for sending
    flagged = {(w.where, w.value) for w in summary.warnings if "may not be contacted" in w.message}
    assert flagged == {("row 2", DAD_E164), ("row 2", "DAD@example.com")}  # e-mail matched case-insensitively
    assert all("nothing will be sent to it" in w.message for w in summary.warnings if w.value == DAD_E164)


def test_restricted_adults_own_numbers_are_not_reported_as_shared(session: Session, tmp_path: Path) -> None:
    import_contacts(session, _family(tmp_path, dad_restriction="no_contact"))
    session.commit()
    again = import_contacts(session, _family(tmp_path, dad_restriction="no_contact"))
    assert not [w for w in again.warnings if "may not be contacted" in w.message]
