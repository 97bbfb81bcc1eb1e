"""Issue 2: import a trust-sized CTF (30,000 pupils; 3,000 with --quick) on SQLite and PostgreSQL.

Measures the first import (everything new) and a re-import of the same file (everything unchanged);
the target is under 60 s for the first import on each backend. PostgreSQL runs in a scratch database
created beside PG_URL and dropped afterwards.
"""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bench.common import PG_URL, BenchResult, stopwatch
from gateway.db import dispose_engines, make_engine, normalise_url, session_scope
from gateway.devtools.synthetic_school import generate_school
from gateway.importing import import_ctf
from gateway.migrate import upgrade

TARGET_SECONDS = 60.0


@contextmanager
def _scratch_postgres(server_url: str) -> Iterator[str]:
    server = make_url(normalise_url(server_url))
    name = f"gwbench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        dispose_engines()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _measure(backend: str, url: str, ctf: Path, pupils: int, contacts: int) -> list[BenchResult]:
    upgrade(url)
    engine = make_engine(url)
    try:
        with stopwatch() as first, session_scope(engine) as session:
            summary = import_ctf(session, ctf)
        assert summary.pupils.created == pupils, summary.to_json()
        with stopwatch() as again, session_scope(engine) as session:
            repeat = import_ctf(session, ctf)
        assert not repeat.changed, repeat.to_json()
    finally:
        engine.dispose()
    note = f"{pupils:,} pupils, {contacts:,} adults, {summary.links.created:,} links"
    return [
        BenchResult(2, f"import CTF ({backend})", first[0], "s", f"< {TARGET_SECONDS:.0f} s",
                    first[0] < TARGET_SECONDS, note),
        BenchResult(2, f"re-import same CTF ({backend})", again[0], "s", f"< {TARGET_SECONDS:.0f} s",
                    again[0] < TARGET_SECONDS, "nothing changed"),
    ]


def run(quick: bool = False) -> list[BenchResult]:
    pupils = 3_000 if quick else 30_000
    results: list[BenchResult] = []
    with tempfile.TemporaryDirectory() as tmp:
        school = generate_school(pupils, seed=2)
        ctf = school.write_ctf(Path(tmp) / "trust.xml")
        contacts = len(school.adults)
        results += _measure("SQLite", f"sqlite:///{Path(tmp) / 'bench.db'}", ctf, pupils, contacts)
        if PG_URL:
            with _scratch_postgres(PG_URL) as url:
                results += _measure("PostgreSQL", url, ctf, pupils, contacts)
        dispose_engines()
    return results
