"""Shared helpers for the import tests: row counts (to prove nothing was written) and file builders."""

from __future__ import annotations

import csv
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.importing.contacts_csv import CONTACT_COLUMNS
from gateway.models import Adult, AttendanceMark, ContactPoint, Pupil, PupilContact

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def row_counts(session: Session) -> dict[str, int]:
    return {model.__tablename__: session.scalar(select(func.count()).select_from(model)) or 0
            for model in (Pupil, Adult, PupilContact, ContactPoint, AttendanceMark)}


def write_contacts(path: Path, rows: list[dict[str, str]], columns: tuple[str, ...] = CONTACT_COLUMNS) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(columns), extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({column: row.get(column, "") for column in columns})
    return path


def contact_row(number: int, **overrides: str) -> dict[str, str]:
    """A valid contacts CSV row for pupil ``number`` (UPN A...number) with its own mother."""
    row = {"pupil_upn": f"A{number:012d}", "pupil_forename": f"Pupil{number}", "pupil_surname": "Smith",
           "pupil_year": "5", "pupil_language": "ENG", "contact_ref": f"C{number}", "title": "Mrs",
           "forename": f"Mum{number}", "surname": "Smith", "relationship": "PAM", "priority": "1",
           "parental_responsibility": "true", "lives_with_pupil": "true",
           "mobile": f"07700 900{number % 1000:03d}", "email": f"mum{number}@example.com"}
    row.update(overrides)
    return row


def ctf_document(pupils_xml: str) -> str:
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<CTfile><Header><DocumentName>Common Transfer File'
            "</DocumentName></Header><CTFpupilData>" + pupils_xml + "</CTFpupilData></CTfile>\n")


def ctf_pupil(upn: str, forename: str, surname: str, contacts_xml: str = "", language: str = "ENG") -> str:
    return (f"<Pupil><UPN>{upn}</UPN><Surname>{surname}</Surname><Forename>{forename}</Forename>"
            f"<BasicDetails><NCyearActual>3</NCyearActual><Languages><Type><LanguageType>F</LanguageType>"
            f"<Language>{language}</Language></Type></Languages></BasicDetails>"
            f"<Contacts>{contacts_xml}</Contacts></Pupil>")


def ctf_contact(forename: str, surname: str, phones: str = "", email: str = "", order: int = 1,
                relationship: str = "PAM") -> str:
    email_xml = f"<Email>{email}</Email>" if email else ""
    return (f"<Contact><Order>{order}</Order><Forename>{forename}</Forename><Surname>{surname}</Surname>"
            f"<Relationship>{relationship}</Relationship><Responsibility>true</Responsibility>"
            f"<Phones>{phones}</Phones>{email_xml}</Contact>")


def ctf_phone(number: str, kind: str = "M") -> str:
    return f"<Phone><TelephoneType>{kind}</TelephoneType><PhoneNo>{number}</PhoneNo></Phone>"
