"""Issue 2: import a trust-sized CTF (30,000 pupils; 3,000 with --quick) on SQLite and PostgreSQL.

Measures the first import (everything new) and a re-import of the same file (everything unchanged);
the target is under 60 s for the first import on each backend. PostgreSQL runs in a scratch database
created beside PG_URL and dropped afterwards.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from bench.common import PG_URL, BenchResult, stopwatch
from gateway.db import dispose_engines, make_engine, session_scope
from gateway.devtools.scratch_db import scratch_postgres_database
from gateway.devtools.synthetic_school import generate_school
from gateway.importing import import_ctf
from gateway.migrate import upgrade

TARGET_SECONDS = 60.0


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
            with scratch_postgres_database(PG_URL) as url:
                results += _measure("PostgreSQL", url, ctf, pupils, contacts)
        dispose_engines()
    return results
