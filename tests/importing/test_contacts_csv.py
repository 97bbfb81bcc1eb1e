"""Contacts CSV import: every problem by row, nothing written on error, contact_ref dedupe, preferences."""

from __future__ import annotations

from datetime import time
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.errors import InputError
from gateway.importing import import_contacts, import_ctf
from gateway.importing.contacts_csv import CONTACT_COLUMNS
from gateway.models import Adult, Literacy, Pupil, PupilContact, Restriction
from tests.importing.helpers import FIXTURES, contact_row, row_counts, write_contacts


def _rejected(session: Session, path: Path, *, strict: bool = False) -> list[str]:
    before = row_counts(session)
    with pytest.raises(InputError) as caught:
        import_contacts(session, path, strict=strict)
    session.rollback()
    assert row_counts(session) == before, "an import that fails must write nothing"
    return [str(problem) for problem in caught.value.problems]


def test_sample_csv_imports_preferences_and_restrictions(session: Session) -> None:
    summary = import_contacts(session, FIXTURES / "contacts_small.csv")
    session.commit()
    totals = {k: summary.to_json()[k] for k in ("pupils", "contacts", "links")}
    assert totals == {"pupils": 3, "contacts": 4, "links": 6}
    anna = session.scalars(select(Adult).where(Adult.external_ref == "C001")).one()
    assert (anna.language, anna.channel_order, anna.literacy) == ("pl", "sms,voice,email", Literacy.STANDARD)
    assert (anna.window_start, anna.window_end) == (time(8, 0), time(19, 30))
    assert len(anna.links) == 2
    piotr = session.scalars(select(Adult).where(Adult.external_ref == "C002")).one()
    assert piotr.literacy is Literacy.PLAIN
    restrictions = {link.pupil.upn: link.restriction for link in piotr.links}
    # Row 3 says dsl_approval; row 6 leaves the cell empty (unknown), so the new link starts as none.
    assert restrictions == {"A123456789012": Restriction.DSL_APPROVAL, "B123456789012": Restriction.NONE}
    hodan = session.scalars(select(Adult).where(Adult.external_ref == "C004")).one()
    assert (hodan.language, hodan.literacy, hodan.channel_order) == ("so", Literacy.VOICE, "voice,sms")


def test_csv_after_ctf_enriches_the_same_adults(session: Session) -> None:
    import_ctf(session, FIXTURES / "ctf_small.xml")
    session.commit()
    before = row_counts(session)
    summary = import_contacts(session, FIXTURES / "contacts_small.csv")
    session.commit()
    assert summary.contacts.created == 0 and summary.pupils.created == 0 and summary.links.created == 0
    assert row_counts(session)["adult"] == before["adult"]
    assert session.scalars(select(Adult.external_ref).where(Adult.forename == "Anna")).one() == "C001"


def test_reimport_changes_nothing_and_update_is_in_place(session: Session, tmp_path: Path) -> None:
    rows = [contact_row(n) for n in range(1, 6)]
    path = write_contacts(tmp_path / "contacts.csv", rows)
    import_contacts(session, path)
    session.commit()
    before = row_counts(session)
    again = import_contacts(session, path)
    session.commit()
    assert not again.changed and row_counts(session) == before
    rows[2]["mobile"] = "07700 900999"
    rows[2]["priority"] = "2"
    changed = import_contacts(session, write_contacts(tmp_path / "contacts.csv", rows))
    session.commit()
    assert (changed.contacts.updated, changed.links.updated, changed.contacts.created) == (1, 1, 0)
    assert row_counts(session) == before
    adult = session.scalars(select(Adult).where(Adult.external_ref == "C3")).one()
    assert {p.value for p in adult.contact_points} == {"+447700900999", "mum3@example.com"}
    assert adult.links[0].priority == 2


def test_strict_bad_phone_in_row_57_names_the_row_and_writes_nothing(session: Session, tmp_path: Path) -> None:
    rows = [contact_row(n) for n in range(1, 80)]
    rows[55]["mobile"] = "07700 9001"  # the 56th data row is spreadsheet row 57 (the header is row 1)
    problems = _rejected(session, write_contacts(tmp_path / "contacts.csv", rows), strict=True)
    assert problems == ["contacts.csv: row 57: mobile: '07700 9001' is not a valid phone number "
                        "(too short: a UK mobile has 11 digits, this one is 2 digits short)"]


def test_bad_phone_in_row_57_is_dropped_with_a_warning_and_the_rest_imported(session: Session, tmp_path: Path) -> None:
    rows = [contact_row(n) for n in range(1, 80)]
    rows[55]["mobile"] = "07700 9001"
    summary = import_contacts(session, write_contacts(tmp_path / "contacts.csv", rows))
    session.commit()
    assert (summary.pupils.created, summary.contacts.created, summary.links.created) == (79, 79, 79)
    (warning,) = summary.warnings
    assert (warning.source, warning.where, warning.field, warning.value, warning.severity) == (
        "contacts.csv", "row 57", "mobile", "07700 9001", "warning")
    assert "too short" in warning.message and "dropped" in warning.message
    adult = session.scalars(select(Adult).where(Adult.external_ref == "C56")).one()
    assert [p.value for p in adult.contact_points] == ["mum56@example.com"]


def test_missing_column_is_reported_and_nothing_is_read(session: Session, tmp_path: Path) -> None:
    columns = tuple(c for c in CONTACT_COLUMNS if c != "parental_responsibility")
    problems = _rejected(session, write_contacts(tmp_path / "contacts.csv", [contact_row(1)], columns))
    assert problems == ["contacts.csv: row 1: parental_responsibility: missing column"]


def test_duplicate_upn_with_conflicting_names(session: Session, tmp_path: Path) -> None:
    rows = [contact_row(1), contact_row(1, pupil_forename="Someone", contact_ref="C9", forename="Dad")]
    problems = _rejected(session, write_contacts(tmp_path / "contacts.csv", rows))
    assert problems == ["contacts.csv: row 3: UPN: UPN A000000000001 is also row 2 with a different name "
                        "(Pupil1 Smith / Someone Smith)"]


def test_every_bad_cell_is_reported(session: Session, tmp_path: Path) -> None:
    rows = [contact_row(1, parental_responsibility="maybe", channels="sms,fax", literacy="low",
                        contact_window="19:00-08:00", restriction="banned", email="no-at-sign", priority="first")]
    path = write_contacts(tmp_path / "contacts.csv", rows)
    fields = [p.split(": ")[2] for p in _rejected(session, path)]
    assert sorted(fields) == sorted(["priority", "parental_responsibility", "channels", "literacy",
                                     "contact_window", "restriction"])  # the bad e-mail alone is a warning
    fields = [p.split(": ")[2] for p in _rejected(session, path, strict=True)]
    assert sorted(fields) == sorted(["email", "priority", "parental_responsibility", "channels", "literacy",
                                     "contact_window", "restriction"])


def test_siblings_without_contact_ref_dedupe_on_name_and_phone(session: Session, tmp_path: Path) -> None:
    rows = [contact_row(1, contact_ref="", forename="Anna", surname="Nowak", mobile="07700 900123", email=""),
            contact_row(2, contact_ref="", forename="anna", surname="NOWAK", mobile="+447700900123", email="")]
    summary = import_contacts(session, write_contacts(tmp_path / "contacts.csv", rows))
    session.commit()
    assert (summary.contacts.created, summary.links.created) == (1, 2)
    assert session.scalars(select(Adult)).one().match_key == "anna nowak"


def test_unknown_language_is_a_warning(session: Session, tmp_path: Path) -> None:
    rows = [contact_row(1, pupil_language="XYZ", language="klingon")]
    summary = import_contacts(session, write_contacts(tmp_path / "contacts.csv", rows))
    session.commit()
    assert len(summary.warnings) == 2
    assert session.scalars(select(Pupil.home_language)).one() == "en-GB"
    # An adult's unknown language is "none of their own" (NULL), never the default written over it: the
    # child's home language (here itself unknown, so en-GB) decides when messages are written.
    assert session.scalars(select(Adult.language)).one() is None


def test_links_missing_from_a_reimport_are_kept_with_a_warning_or_removed_on_request(
    session: Session, tmp_path: Path
) -> None:
    rows = [contact_row(1), contact_row(1, contact_ref="C9", forename="Dad", relationship="PAF", mobile="07700 900555",
                                        email="dad@example.com")]
    import_contacts(session, write_contacts(tmp_path / "contacts.csv", rows))
    session.commit()
    kept = import_contacts(session, write_contacts(tmp_path / "contacts.csv", rows[:1]))
    session.commit()
    assert any("not in this file and were kept" in w.message for w in kept.warnings)
    assert len(session.scalars(select(PupilContact)).all()) == 2
    removed = import_contacts(session, tmp_path / "contacts.csv", remove_missing_links=True)
    session.commit()
    assert removed.links.removed == 1
    assert len(session.scalars(select(PupilContact)).all()) == 1


def test_empty_cells_never_erase_what_is_known(session: Session, tmp_path: Path) -> None:
    import_contacts(session, write_contacts(tmp_path / "c.csv", [contact_row(1, language="pl", literacy="plain")]))
    session.commit()
    import_contacts(session, write_contacts(tmp_path / "c.csv", [contact_row(1)]))
    session.commit()
    adult = session.scalars(select(Adult)).one()
    assert (adult.language, adult.literacy) == ("pl", Literacy.PLAIN)


def test_values_too_long_for_their_column_are_errors(session: Session, tmp_path: Path) -> None:
    rows = [contact_row(1, contact_ref="R" * 65, title="Professor Emeritus Dr", pupil_forename="X" * 101)]
    problems = _rejected(session, write_contacts(tmp_path / "contacts.csv", rows))
    assert sorted(p.split(": ")[2] for p in problems) == ["contact_ref", "pupil_forename", "title"]


def test_pupil_flags_columns_set_bereaved_illness_and_support_plan(session: Session, tmp_path: Path) -> None:
    columns = (*CONTACT_COLUMNS, "bereaved", "long_term_ill", "support_plan")
    rows = [contact_row(1, bereaved="true"), contact_row(1, contact_ref="C9", forename="Dad", support_plan="yes"),
            contact_row(2, long_term_ill="true", support_plan="false")]
    summary = import_contacts(session, write_contacts(tmp_path / "contacts.csv", rows, columns))
    session.commit()
    assert not summary.warnings  # the flag columns are known, not "ignored unknown columns"
    flags = {p.upn: (p.bereaved, p.long_term_ill, p.support_plan) for p in session.scalars(select(Pupil))}
    assert flags == {"A000000000001": (True, False, True), "A000000000002": (False, True, False)}
    # A file without the columns (or with empty cells) never clears a flag.
    import_contacts(session, write_contacts(tmp_path / "plain.csv", [contact_row(1), contact_row(2)]))
    session.commit()
    session.expire_all()
    flags = {p.upn: (p.bereaved, p.long_term_ill, p.support_plan) for p in session.scalars(select(Pupil))}
    assert flags == {"A000000000001": (True, False, True), "A000000000002": (False, True, False)}


def test_a_bad_flag_value_is_an_error_naming_the_row(session: Session, tmp_path: Path) -> None:
    columns = (*CONTACT_COLUMNS, "bereaved")
    problems = _rejected(session, write_contacts(tmp_path / "contacts.csv", [contact_row(1, bereaved="sadly")],
                                                 columns))
    assert problems == ["contacts.csv: row 2: bereaved: 'sadly' is not true or false"]
