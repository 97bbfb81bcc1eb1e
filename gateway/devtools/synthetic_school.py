"""A deterministic synthetic school (or trust) for demos, tests and benchmarks.

``generate_school(pupils=900, seed=1)`` builds families: siblings sharing their adults, parents with
parental responsibility (some not living with the child, a few restricted by the DSL), emergency contacts
without it (grandparents, family friends), the fifteen most common home languages with names to match,
mobiles, landlines and e-mails, literacy needs and contact windows. The same seed always gives the same
school. Writers stream rows to disk, so a 30,000-pupil trust needs no big in-memory document.

Phone numbers come only from Ofcom's drama ranges (07700 900xxx, 01632 960xxx, 0113 496 0xxx …) and
e-mail addresses only from example.com / example.org / example.net: nothing here can reach a real person.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from xml.sax.saxutils import escape

from gateway.csv_safety import safe_csv_writer
from gateway.importing.contacts_csv import CONTACT_COLUMNS
from gateway.importing.records import name_key

# DfE code, BCP 47, share of pupils (roughly English schools), forenames (f, m), surnames.
_LANGUAGES: tuple[tuple[str, str, float, tuple[str, ...], tuple[str, ...], tuple[str, ...]], ...] = (
    ("ENG", "en-GB", 0.80, ("Olivia", "Amelia", "Isla", "Emily", "Grace", "Sophie"),
     ("Oliver", "George", "Harry", "Jack", "Noah", "Leo"), ("Smith", "Jones", "Taylor", "Brown", "Wilson", "Evans")),
    ("URD", "ur", 0.025, ("Ayesha", "Fatima", "Maryam", "Zainab"), ("Muhammad", "Ali", "Hamza", "Bilal"),
     ("Khan", "Hussain", "Ahmed", "Iqbal")),
    ("PNJ", "pa", 0.02, ("Harpreet", "Simran", "Gurleen", "Jaspreet"), ("Gurpreet", "Harjit", "Manpreet", "Amrit"),
     ("Singh", "Kaur", "Gill", "Sandhu")),
    ("POL", "pl", 0.02, ("Zofia", "Zuzanna", "Julia", "Maja", "Anna"), ("Jakub", "Antoni", "Jan", "Piotr"),
     ("Nowak", "Kowalski", "Wiśniewski", "Wójcik")),
    ("BNG", "bn", 0.015, ("Nusrat", "Tahmina", "Sadia", "Farzana"), ("Rahim", "Abdul", "Shafiq", "Imran"),
     ("Begum", "Miah", "Rahman", "Uddin")),
    ("SOM", "so", 0.01, ("Hodan", "Amina", "Sahra", "Faadumo"), ("Abdi", "Mohamed", "Abdullahi", "Yusuf"),
     ("Warsame", "Farah", "Hassan", "Jama")),
    ("ARA", "ar", 0.01, ("Layla", "Noor", "Huda", "Rania"), ("Omar", "Yousef", "Khalid", "Ahmad"),
     ("Al-Sayed", "Haddad", "Nasser", "Saleh")),
    ("GUJ", "gu", 0.008, ("Priya", "Hetal", "Nisha", "Dhruvi"), ("Raj", "Nikhil", "Jay", "Kiran"),
     ("Patel", "Shah", "Mistry", "Desai")),
    ("POR", "pt", 0.008, ("Beatriz", "Mariana", "Inês", "Leonor"), ("João", "Tiago", "Miguel", "Rodrigo"),
     ("Silva", "Santos", "Ferreira", "Pereira")),
    ("TAM", "ta", 0.006, ("Kavya", "Anjali", "Divya", "Meena"), ("Arjun", "Karthik", "Vijay", "Suresh"),
     ("Sivakumar", "Rajendran", "Murugan", "Krishnan")),
    ("FRN", "fr", 0.006, ("Chloé", "Léa", "Manon", "Camille"), ("Lucas", "Hugo", "Louis", "Théo"),
     ("Martin", "Bernard", "Dubois", "Lefèvre")),
    ("RMN", "ro", 0.008, ("Ioana", "Elena", "Andreea", "Maria"), ("Andrei", "Ionuț", "Mihai", "Alexandru"),
     ("Popescu", "Ionescu", "Popa", "Dumitru")),
    ("TUR", "tr", 0.005, ("Elif", "Zeynep", "Ayşe", "Defne"), ("Yusuf", "Emir", "Mehmet", "Mustafa"),
     ("Yılmaz", "Kaya", "Demir", "Şahin")),
    ("LIT", "lt", 0.005, ("Emilija", "Gabija", "Ugnė", "Austėja"), ("Matas", "Lukas", "Jonas", "Dovydas"),
     ("Kazlauskas", "Jankauskas", "Petrauskas", "Stankevičius")),
    ("SPA", "es", 0.005, ("Lucía", "Sofía", "Martina", "Carmen"), ("Hugo", "Mateo", "Martín", "Alejandro"),
     ("García", "Fernández", "López", "Martínez")),
    ("UKR", "uk", 0.005, ("Sofiia", "Anastasiia", "Oleksandra", "Daryna"), ("Oleksandr", "Maksym", "Artem", "Dmytro"),
     ("Shevchenko", "Bondarenko", "Kovalenko", "Tkachenko")),
)
_LANDLINE_PREFIXES = ("0113 496 0", "0114 496 0", "0116 496 0", "0117 496 0", "0118 496 0",
                      "0121 496 0", "0131 496 0", "0141 496 0", "0151 496 0", "0161 496 0", "020 7946 0")
_EMAIL_DOMAINS = ("example.com", "example.org", "example.net")
_STREETS = ("High Street", "Station Road", "Church Lane", "Park Avenue", "Victoria Road", "Mill Lane")
_TOWNS = ("Leeds", "Bradford", "Birmingham", "Manchester", "Leicester", "Luton")
_YEARS = ("R", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11")
PRIMARY_YEARS = ("R", "1", "2", "3", "4", "5", "6")  # a primary school: Reception to Year 6


@dataclass
class SyntheticAdult:
    ref: str
    title: str
    forename: str
    surname: str
    address: str
    mobile: str | None
    home_phone: str | None
    work_phone: str | None
    email: str | None
    language: str | None  # DfE code when the adult's own language is known (CSV only)
    literacy: str = "standard"
    channels: str = "sms,email,voice"
    contact_window: str | None = None


@dataclass
class SyntheticLink:
    adult: SyntheticAdult
    relationship: str
    priority: int
    parental_responsibility: bool
    lives_with_pupil: bool
    restriction: str = "none"


@dataclass
class SyntheticPupil:
    upn: str
    forename: str
    surname: str
    year: str
    language_dfe: str
    address: str
    links: list[SyntheticLink] = field(default_factory=list)


@dataclass
class SyntheticSchool:
    name: str
    urn: str
    estab: str
    pupils: list[SyntheticPupil]
    seed: int

    @property
    def adults(self) -> list[SyntheticAdult]:
        """Every distinct adult, in the order first met."""
        seen: dict[str, SyntheticAdult] = {}
        for pupil in self.pupils:
            for link in pupil.links:
                seen.setdefault(link.adult.ref, link.adult)
        return list(seen.values())

    @property
    def link_count(self) -> int:
        return sum(len(p.links) for p in self.pupils)

    def write_ctf(self, path: Path | str) -> Path:
        """Write a DfE Common Transfer File (the structure :mod:`gateway.importing.ctf` reads)."""
        path = Path(path)
        with path.open("w", encoding="utf-8") as out:
            out.write('<?xml version="1.0" encoding="UTF-8"?>\n<CTfile>\n<Header>\n'
                      "<DocumentName>Common Transfer File</DocumentName><CTFversion>24.0</CTFversion>\n"
                      f"<SourceSchool><LEA>999</LEA><Estab>{self.estab}</Estab><URN>{self.urn}</URN>"
                      f"<SchoolName>{escape(self.name)}</SchoolName><AcademicYear>2026</AcademicYear>"
                      "</SourceSchool>\n</Header>\n<CTFpupilData>\n")
            for pupil in self.pupils:
                out.write("".join(_pupil_xml(pupil)))
            out.write("</CTFpupilData>\n</CTfile>\n")
        return path

    def write_contacts_csv(self, path: Path | str) -> Path:
        """Write the contacts CSV of CONTRACT.md: one row per pupil–adult link, with contact_ref."""
        path = Path(path)
        with path.open("w", encoding="utf-8", newline="") as out:
            writer = safe_csv_writer(out)
            writer.writerow(CONTACT_COLUMNS)
            for pupil in self.pupils:
                for link in pupil.links:
                    adult = link.adult
                    writer.writerow([
                        pupil.upn, pupil.forename, pupil.surname, pupil.year, pupil.language_dfe, adult.ref,
                        adult.title, adult.forename, adult.surname, link.relationship, link.priority,
                        str(link.parental_responsibility).lower(), str(link.lives_with_pupil).lower(),
                        adult.mobile or "", adult.home_phone or "", adult.work_phone or "", adult.email or "",
                        adult.language or "", adult.channels, adult.literacy, adult.contact_window or "",
                        link.restriction,
                    ])
        return path

    def write_absences_csv(self, path: Path | str, day: date, *, absent_share: float = 0.06) -> Path:
        """Write a register for ``day``: about ``absent_share`` of pupils ``N`` (AM and PM), the rest present."""
        path = Path(path)
        rng = random.Random(f"{self.seed}-{day.isoformat()}")
        with path.open("w", encoding="utf-8", newline="") as out:
            writer = safe_csv_writer(out)
            writer.writerow(["upn", "date", "session", "code"])
            for pupil in self.pupils:
                absent = rng.random() < absent_share
                writer.writerow([pupil.upn, day.isoformat(), "AM", "N" if absent else "/"])
                writer.writerow([pupil.upn, day.isoformat(), "PM", "N" if absent else "\\"])
        return path


def _tag(name: str, value: str | None) -> str:
    return f"<{name}>{escape(value)}</{name}>" if value else ""


def _pupil_xml(pupil: SyntheticPupil) -> Iterator[str]:
    yield (f"<Pupil><UPN>{pupil.upn}</UPN>{_tag('Surname', pupil.surname)}{_tag('Forename', pupil.forename)}"
           f"<BasicDetails><NCyearActual>{pupil.year}</NCyearActual><Languages><Type>"
           f"<LanguageType>F</LanguageType><Language>{pupil.language_dfe}</Language></Type></Languages>"
           f"</BasicDetails><Address><AddressLines>{_tag('AddressLine1', pupil.address)}</AddressLines>"
           "</Address>\n<Contacts>")
    for link in pupil.links:
        adult = link.adult
        address = ("<Address><AddressAsPupil>true</AddressAsPupil></Address>" if link.lives_with_pupil
                   else f"<Address><AddressLines>{_tag('AddressLine1', adult.address)}</AddressLines></Address>")
        phones = "".join(f"<Phone><TelephoneType>{kind}</TelephoneType><PhoneNo>{escape(number)}</PhoneNo></Phone>"
                         for kind, number in (("M", adult.mobile), ("H", adult.home_phone), ("W", adult.work_phone))
                         if number)
        yield (f"\n<Contact><Order>{link.priority}</Order>{_tag('Title', adult.title)}"
               f"{_tag('Forename', adult.forename)}{_tag('Surname', adult.surname)}"
               f"<Relationship>{link.relationship}</Relationship>"
               f"<Responsibility>{str(link.parental_responsibility).lower()}</Responsibility>{address}"
               f"{'<Phones>' + phones + '</Phones>' if phones else ''}{_tag('Email', adult.email)}</Contact>")
    yield "</Contacts></Pupil>\n"


class _Generator:
    def __init__(self, seed: int, years: tuple[str, ...] = _YEARS) -> None:
        self.rng = random.Random(seed)
        self.years = years
        self.adult_count = 0
        self.upn_count = 0
        self.used: set[tuple[str, str, str]] = set()  # (forename, surname, number): distinct people stay distinct
        self.pools: dict[str, list[int]] = {}  # per drama range, the line numbers nobody has yet

    def language(self) -> tuple[str, str, tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
        pick = self.rng.choices(_LANGUAGES, weights=[entry[2] for entry in _LANGUAGES])[0]
        return pick[0], pick[1], pick[3], pick[4], pick[5]

    def upn(self) -> str:
        self.upn_count += 1
        return f"S{999000000000 + self.upn_count:012d}"[:13]

    def address(self) -> str:
        return f"{self.rng.randint(1, 240)} {self.rng.choice(_STREETS)}, {self.rng.choice(_TOWNS)}"

    def number(self, forename: str, surname: str, prefix: str) -> str:
        """A drama-range number nobody else has (unrelated adults never share a phone), while the range lasts;
        then one not already used by someone of the same name (they would be merged)."""
        pool = self.pools.get(prefix)
        if pool is None:
            pool = self.pools[prefix] = self.rng.sample(range(1000), 1000)
        if pool:
            number = f"{prefix}{pool.pop():03d}"
            self.used.add((forename, surname, number))
            return number
        number = ""
        for _ in range(50):
            number = f"{prefix}{self.rng.randint(0, 999):03d}"
            if (forename, surname, number) not in self.used:
                break
        self.used.add((forename, surname, number))
        return number

    def adult(self, title: str, forename: str, surname: str, address: str, language: str | None) -> SyntheticAdult:
        self.adult_count += 1
        rng = self.rng
        mobile = self.number(forename, surname, "07700 900") if rng.random() < 0.92 else None
        home = self.number(forename, surname, rng.choice(_LANDLINE_PREFIXES)) if rng.random() < 0.3 else None
        work = self.number(forename, surname, rng.choice(_LANDLINE_PREFIXES)) if rng.random() < 0.1 else None
        if mobile is None and home is None:  # every synthetic adult can be reached somehow
            home = self.number(forename, surname, rng.choice(_LANDLINE_PREFIXES))
        email = None
        if rng.random() < 0.7:
            local = ".".join(name_key(part).replace(" ", "") for part in (forename, surname))
            email = f"{local}.{self.adult_count}@{rng.choice(_EMAIL_DOMAINS)}"
        literacy = rng.choices(("standard", "plain", "voice"), weights=(85, 11, 4))[0]
        channels = "voice,sms,email" if literacy == "voice" else rng.choice(("sms,email,voice", "email,sms,voice"))
        window = rng.choice((None, None, None, "08:00-18:00", "16:00-20:00"))
        return SyntheticAdult(f"C{self.adult_count:07d}", title, forename, surname, address, mobile, home, work,
                              email, language, literacy, channels, window)

    def family(self, size: int) -> list[SyntheticPupil]:
        rng = self.rng
        dfe, _bcp47, girls, boys, surnames = self.language()
        surname = rng.choice(surnames)
        home = self.address()
        adult_language = dfe if dfe != "ENG" and rng.random() < 0.8 else None
        mother = self.adult("Mrs", rng.choice(girls), surname, home, adult_language)
        links = [SyntheticLink(mother, "PAM", 1, True, True)]
        if rng.random() < 0.75:
            separated = rng.random() < 0.2
            father = self.adult("Mr", rng.choice(boys), surname, self.address() if separated else home, adult_language)
            restriction = "none"
            if separated:
                restriction = rng.choices(("none", "no_contact", "dsl_approval"), weights=(94, 3, 3))[0]
            links.append(SyntheticLink(father, "PAF", 2, True, not separated, restriction))
        if rng.random() < 0.6:
            relationship = rng.choice(("GRM", "GRF", "FAF", "REL"))
            title = "Mrs" if relationship in ("GRM",) else rng.choice(("Mr", "Ms", "Mrs"))
            pool = girls if title != "Mr" else boys
            other = surname if relationship in ("GRM", "GRF", "REL") else rng.choice(_LANGUAGES[0][5])
            links.append(SyntheticLink(self.adult(title, rng.choice(pool), other, self.address(), None),
                                       relationship, len(links) + 1, False, False))
        pupils = []
        taken = {link.adult.forename for link in links}  # a child never shares a parent's or a sibling's name
        for _ in range(size):
            names = [n for n in girls + boys if n not in taken] or list(girls + boys)
            child = rng.choice(names)
            taken.add(child)
            pupils.append(SyntheticPupil(self.upn(), child, surname, rng.choice(self.years), dfe, home,
                                         [SyntheticLink(**vars(link)) for link in links]))
        return pupils


def generate_school(pupils: int, seed: int = 1, *, name: str = "Oakfield Academy Trust",
                    primary: bool = False) -> SyntheticSchool:
    """A school of ``pupils`` pupils in families of one to four children; the same seed, the same school.
    ``primary``: Reception to Year 6 only (the demo's primary school)."""
    generator = _Generator(seed, PRIMARY_YEARS if primary else _YEARS)
    result: list[SyntheticPupil] = []
    while len(result) < pupils:
        size = generator.rng.choices((1, 2, 3, 4), weights=(55, 30, 11, 4))[0]
        result.extend(generator.family(min(size, pupils - len(result))))
    return SyntheticSchool(name=name, urn=str(100000 + seed % 900000), estab=f"{4000 + seed % 1000}", pupils=result,
                           seed=seed)
