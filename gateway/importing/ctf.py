"""Read a DfE Common Transfer File (CTF) into pupil and contact records.

The parts of the CTF structure we use (DfE CTF specification, section 4 "XML message structure")::

    CTfile/Header/SourceSchool/{LEA, Estab, URN, SchoolName}
    CTfile/CTFpupilData/Pupil
        UPN, Surname, Forename
        BasicDetails/{PreferredForename, NCyearActual, Languages/Type/{LanguageType, Language}}
        Address/...                                   (the pupil's home address)
        Contacts/Contact
            Order, Title, Forename, Surname, Relationship, Responsibility (true/false)
            Address/AddressAsPupil (true) | Address/{BS7666Address|AddressLines, PostCode, ...}
            Phones/Phone/{TelephoneType (CBDS D00026: H, A, M, W, F, D), PhoneNo}
            Email
        Phones/Phone/{TelephoneType, PhoneNo}         (household phones: SIMS keeps the home landline here;
                                                       they belong to the adults at the pupil's address)

Telephone types: H home, A alternate home, M mobile, W work, F fax (cannot be called or texted: dropped
with a warning), D Minicom textphone (recorded and shown, never called or texted). A contact's unusable
phone number or e-mail address is dropped with a warning (an error with ``strict``): one mistyped number
never refuses a whole file. A root element in an XML namespace reads like one without.

The file is untrusted: it is parsed with defusedxml, which refuses entity declarations (the "billion
laughs" bomb) and external entities, and it is streamed pupil by pupil so a trust-sized file stays small
in memory. Every problem is logged with the element's path, e.g. ``/CTfile/CTFpupilData/Pupil[3]/Contacts/
Contact[2]``; the caller raises them all together.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import iterparse

from gateway.importing.fields import (
    PhoneSlot,
    add_email,
    check_bool,
    check_language,
    check_length,
    check_phone,
    check_priority,
    check_relationship,
    check_upn,
    warn_if_unreachable,
)
from gateway.importing.progress import ProgressReporter, SilentProgress
from gateway.importing.records import ContactEntry, ContactPointRecord, ProblemLog, PupilRecord, clean

PUPILS_PATH = "/CTfile/CTFpupilData/Pupil"
_PHONE_SLOTS: dict[str, PhoneSlot] = {"H": "home", "A": "home", "M": "mobile", "W": "work", "D": "minicom",
                                      "O": "other"}
# Address parts that are identifiers, not something a person would read on an envelope.
_ADDRESS_SKIP = {"AddressAsPupil", "UniquePropertyReferenceNumber", "Easting", "Northing", "Country"}


@dataclass(frozen=True)
class SchoolRecord:
    name: str
    urn: str | None
    estab: str | None


@dataclass
class ParsedHouseholds:
    """What a CTF or contacts CSV holds: pupils, one entry per pupil–adult link, the sending school."""

    pupils: list[PupilRecord] = field(default_factory=list)
    entries: list[ContactEntry] = field(default_factory=list)
    school: SchoolRecord | None = None


def _text(element: Element | None, path: str) -> str | None:
    if element is None:
        return None
    found = element.find(path)
    return clean(found.text) if found is not None else None


def _address_text(address: Element | None) -> str | None:
    if address is None:
        return None
    parts = [clean(e.text) for e in address.iter() if e is not address and e.tag not in _ADDRESS_SKIP]
    return ", ".join(p for p in parts if p)[:400] or None  # Adult.address size; the address is for staff only


def _first_language(pupil: Element) -> str | None:
    """The pupil's first language (LanguageType F); another listed language only when F is missing."""
    fallback = None
    for entry in pupil.iterfind("BasicDetails/Languages/Type"):
        language = _text(entry, "Language")
        if (_text(entry, "LanguageType") or "").upper() == "F" and language:
            return language
        fallback = fallback or language
    return fallback


def _read_pupil(pupil: Element, where: str, log: ProblemLog, parsed: ParsedHouseholds) -> None:
    upn = check_upn(log, where, "UPN", _text(pupil, "UPN"))
    surname = check_length(log, where, "Surname", _text(pupil, "Surname"), "name")
    forename = check_length(log, where, "Forename", _text(pupil, "Forename"), "name")
    if not surname:
        log.error(where, "Surname", "the pupil's surname is missing")
    if not forename:
        log.error(where, "Forename", "the pupil's forename is missing")
    language, language_dfe = check_language(log, where, "BasicDetails/Languages", _first_language(pupil))
    if upn is None or not surname or not forename:
        return
    parsed.pupils.append(PupilRecord(
        upn=upn, forename=forename, surname=surname, where=where,
        # PreferredForename and NCyearActual sit in BasicDetails; some MIS put them on Pupil itself.
        preferred_forename=check_length(log, where, "PreferredForename", _text(
            pupil, "BasicDetails/PreferredForename") or _text(pupil, "PreferredForename"), "name"),
        year_group=check_length(log, where, "NCyearActual", _text(
            pupil, "BasicDetails/NCyearActual") or _text(pupil, "NCyearActual"), "year"),
        home_language=language, home_language_dfe=language_dfe,
    ))
    pupil_address = _address_text(pupil.find("Address"))
    dropped_before = len(log.dropped)
    household = _read_phones(pupil, where, log)
    household_dropped = log.dropped[dropped_before:]
    entries: list[ContactEntry] = []
    for index, contact in enumerate(pupil.iterfind("Contacts/Contact"), start=1):
        entry = _read_contact(contact, f"{where}/Contacts/Contact[{index}]", upn, pupil_address, log)
        if entry is not None:
            entries.append(entry)
    parsed.entries.extend(entries)
    at_home = [e for e in entries if e.lives_with_pupil]
    _share_household_phones(household, at_home, where, log)
    for entry in at_home:  # a household number dropped is theirs to fix, too
        entry.dropped.extend(household_dropped)
    for entry in entries:  # after the household phones: they may be how an adult is reached
        warn_if_unreachable(log, entry.where, entry.contact_points)


def _share_household_phones(household: list[ContactPointRecord], at_home: list[ContactEntry], where: str,
                            log: ProblemLog) -> None:
    """Give the pupil-level phones to every adult who lives at the pupil's address (after their own)."""
    if not household:
        return
    if not at_home:
        log.warn(f"{where}/Phones", None, "household phone(s) kept by no one: no contact lives at the pupil's "
                 "address (AddressAsPupil); add the number to the right adult")
        return
    for entry in at_home:
        known = {point.value for point in entry.contact_points}
        entry.contact_points.extend(point for point in household if point.value not in known)


def _read_phones(owner: Element, where: str, log: ProblemLog) -> list[ContactPointRecord]:
    """The ``Phones/Phone`` of a contact or a pupil, each checked (an unusable one dropped with a warning)."""
    points: list[ContactPointRecord] = []
    for index, phone in enumerate(owner.iterfind("Phones/Phone"), start=1):
        phone_where = f"{where}/Phones/Phone[{index}]"
        number = _text(phone, "PhoneNo")
        phone_type = (_text(phone, "TelephoneType") or "O").upper()
        if not number:
            log.warn(phone_where, "PhoneNo", "empty phone number ignored")
            continue
        if phone_type == "F":
            log.warn(phone_where, "TelephoneType", "a fax number cannot be called or texted: ignored", number)
            continue
        slot = _PHONE_SLOTS.get(phone_type)
        if slot is None:
            log.warn(phone_where, "TelephoneType", f"{phone_type!r} is not a CBDS telephone type (H, A, M, W, F, D): "
                     "treated as a phone of unknown type", phone_type)
            slot = "other"
        point = check_phone(log, phone_where, "PhoneNo", number, slot)
        if point is not None:
            points.append(point)
    return points


def _read_contact(
    contact: Element, where: str, upn: str, pupil_address: str | None, log: ProblemLog
) -> ContactEntry | None:
    surname = check_length(log, where, "Surname", _text(contact, "Surname"), "name")
    if not surname:
        log.error(where, "Surname", "the contact's surname is missing")
    order = check_priority(log, where, "Order", _text(contact, "Order"))
    responsibility = check_bool(log, where, "Responsibility", _text(contact, "Responsibility"))
    if responsibility is None and _text(contact, "Responsibility") is None:
        log.warn(where, "Responsibility", "missing: treated as no parental responsibility")
    address_element = contact.find("Address")
    as_pupil = check_bool(log, where, "Address/AddressAsPupil",
                          _text(contact, "Address/AddressAsPupil") or _text(contact, "AddressAsPupil"))
    address = pupil_address if as_pupil else _address_text(address_element)
    lives_with: bool | None = True if as_pupil else None
    if not as_pupil and address and pupil_address:
        lives_with = address.casefold() == pupil_address.casefold()
    dropped_before = len(log.dropped)
    points = _read_phones(contact, where, log)
    add_email(log, where, "Email", _text(contact, "Email"), points)
    if not surname:
        return None
    return ContactEntry(dropped=log.dropped[dropped_before:],
        pupil_upn=upn, where=where, forename=check_length(log, where, "Forename", _text(contact, "Forename"), "name")
        or "", surname=surname, title=check_length(log, where, "Title", _text(contact, "Title"), "title"),
        relationship=check_relationship(log, where, "Relationship", _text(contact, "Relationship")),
        priority=order, parental_responsibility=bool(responsibility), lives_with_pupil=lives_with,
        address=address, contact_points=points,
    )


def _school(header: Element) -> SchoolRecord | None:
    name = _text(header, "SourceSchool/SchoolName")
    if not name:
        return None
    return SchoolRecord(name=name, urn=_text(header, "SourceSchool/URN"), estab=_text(header, "SourceSchool/Estab"))


def parse_ctf(path: Path, log: ProblemLog, progress: ProgressReporter | None = None) -> ParsedHouseholds:
    """Read every pupil and contact of a CTF; problems go to ``log`` (the caller raises them)."""
    progress = progress or SilentProgress()
    progress.phase("reading CTF")
    parsed = ParsedHouseholds()
    pupil_count = 0
    try:
        # "end" events only: a CTF nests no Pupil or Header elsewhere, and half the events is a faster read.
        events = iterparse(str(path), events=("end",), forbid_dtd=False, forbid_entities=True,
                           forbid_external=True)
        for _event, element in events:
            tag = element.tag
            if tag[0] == "{":  # a namespaced CTF: children end before their parent, so all are stripped in time
                element.tag = tag = tag.rpartition("}")[2]
            if tag == "Pupil":
                pupil_count += 1
                _read_pupil(element, f"{PUPILS_PATH}[{pupil_count}]", log, parsed)
                element.clear()  # stream: a trust's file never sits in memory whole
                progress.advance()
            elif tag == "Header":
                parsed.school = _school(element)
        root = events.root  # type: ignore[attr-defined]
        if root is not None and root.tag != "CTfile":
            log.error(f"/{root.tag}", None, "not a Common Transfer File (the root element is not CTfile)")
            return ParsedHouseholds()
    except DefusedXmlException as exc:
        log.error("document", None, f"refused: the file declares entities or a DTD, which a CTF never does ({exc})")
    except ParseError as exc:
        line, column = exc.position
        reason = str(exc.msg)
        hint = " (a file that is not UTF-8 must name its encoding in its XML declaration, e.g. ISO-8859-1)" \
            if "invalid token" in reason else ""
        log.error(f"line {line}, column {column}", None, f"not well-formed XML: {reason}{hint}")
    except OSError as exc:
        log.error("file", None, f"cannot read the file: {exc.strerror or exc}")
    if pupil_count == 0 and not log.errors:
        log.warn(PUPILS_PATH, None, "the file lists no pupils")
    return parsed
