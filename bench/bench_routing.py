"""Issue 5: plan fresh-start nudges for a 100,000-pupil trust (~180,000 adults) on PostgreSQL.

Target: loader + planning under 20 s with peak memory under 300 MB, and how the time grows from 10,000 to
100,000 pupils. The data is bulk-loaded into a scratch database (COPY for people, one INSERT … SELECT over
generate_series for the ~60 register marks per pupil of the previous half-term). Each measurement runs in a
fresh subprocess so its peak RSS covers exactly the interpreter, the imports, the loader and the planner.

    .venv/bin/python -m bench --only routing            # 10k, 30k, 100k
    .venv/bin/python -m bench --only routing --quick    # 10k only
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import create_engine

from bench.common import PG_URL, BenchResult
from gateway.devtools.scratch_db import scratch_postgres_database

ISSUE = 5
SIZES = (10_000, 30_000, 100_000)
PREVIOUS_HALF_TERM = (date(2026, 11, 2), date(2026, 12, 11))  # 30 school days: 60 possible sessions
NEXT_HALF_TERM = date(2027, 1, 4)
ABSENCE_DAY = date(2027, 1, 11)
LANGUAGES = ["en-GB"] * 16 + ["ur", "pa", "pl", "bn", "so", "ar", "ro", "lt"]
# Names repeat in real schools (many Mohammeds, Olivias and Smiths): 400 forenames x 1,500 surnames.
FORENAMES = [f"Forename{i}" for i in range(400)]
SURNAMES = [f"Surname{i}" for i in range(1_500)]


# Scratch database ---------------------------------------------------------------------------------------
# Synthetic trust ----------------------------------------------------------------------------------------
class TrustWriter:
    """Families of 1-4 children sharing ~2.95 adults (mother, usually a father, 0-2 emergency contacts),
    appended size by size so 10k, 30k and 100k reuse the rows already written."""

    def __init__(self, seed: int = 5) -> None:
        self.rng = random.Random(seed)
        self.pupils = self.adults = self.points = self.links = 0

    def grow_to(self, url: str, pupil_total: int) -> None:
        pupil_rows: list[tuple[Any, ...]] = []
        adult_rows: list[tuple[Any, ...]] = []
        point_rows: list[tuple[Any, ...]] = []
        link_rows: list[tuple[Any, ...]] = []
        first_pupil = self.pupils + 1
        now = datetime.now(UTC)
        rng = self.rng
        while self.pupils < pupil_total:
            language = rng.choice(LANGUAGES)
            surname = rng.choice(SURNAMES)
            family_adults = []
            for role, responsibility, chance in (("PAM", True, 1.0), ("PAF", True, 0.85), ("GRM", False, 0.7),
                                                 ("FAF", False, 0.4)):
                if rng.random() >= chance:
                    continue
                self.adults += 1
                aid = self.adults
                literacy = rng.choices(("standard", "plain", "voice"), weights=(85, 11, 4))[0]
                window = rng.choice((None, None, None, ("08:00", "18:00"), ("16:00", "20:00")))
                adult_rows.append((aid, "Mrs" if role in ("PAM", "GRM") else "Mr", rng.choice(FORENAMES),
                                   surname if role != "FAF" else rng.choice(SURNAMES),
                                   None if language == "en-GB" or rng.random() < 0.3 else language, literacy,
                                   rng.choice(("sms,email,voice", "email,sms,voice", "voice,sms,email")),
                                   window and window[0], window and window[1], now))
                if rng.random() < 0.92:
                    self.points += 1
                    point_rows.append((self.points, aid, "mobile", f"+447700{aid:06d}"[:13], True, 0,
                                       now if rng.random() < 0.01 else None))
                if rng.random() < 0.3 or role == "GRM":
                    self.points += 1
                    point_rows.append((self.points, aid, "landline", f"+44113496{aid:06d}"[:13], False, 1, None))
                if rng.random() < 0.6:
                    self.points += 1
                    point_rows.append((self.points, aid, "email", f"adult{aid}@example.org", False, 2, None))
                restriction = "none"
                if role == "PAF" and rng.random() < 0.05:
                    restriction = rng.choice(("no_contact", "dsl_approval"))
                family_adults.append((aid, role, responsibility, restriction))
            size = rng.choices((1, 2, 3, 4), weights=(55, 30, 11, 4))[0]
            for _ in range(min(size, pupil_total - self.pupils)):
                self.pupils += 1
                pid = self.pupils
                pupil_rows.append((pid, f"T{pid:012d}", rng.choice(FORENAMES), surname, str(rng.randint(1, 11)),
                                   language, rng.random() < 0.005, rng.random() < 0.01, False, now))
                for priority, (aid, role, responsibility, restriction) in enumerate(family_adults, start=1):
                    self.links += 1
                    link_rows.append((self.links, pid, aid, role, priority, responsibility, True, restriction))
        copies = (
            ("pupil", "id, upn, forename, surname, year_group, home_language, bereaved, long_term_ill, "
                      "support_plan, updated_at", pupil_rows),
            ("adult", "id, title, forename, surname, language, literacy, channel_order, window_start, window_end, "
                      "updated_at", adult_rows),
            ("contact_point", "id, adult_id, kind, value, sms_capable, position, opted_out_at", point_rows),
            ("pupil_contact", "id, pupil_id, adult_id, relationship_code, priority, parental_responsibility, "
                              "lives_with_pupil, restriction", link_rows),
        )
        engine = create_engine(_psycopg(url))
        raw = engine.raw_connection()
        try:
            connection: Any = raw.driver_connection
            with connection.cursor() as cursor:
                for table, columns, rows in copies:
                    with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                        for row in rows:
                            copy.write_row(row)
                # ~60 register marks per new pupil, absence rates spread so about half fall below 95%.
                cursor.execute("""
                    INSERT INTO attendance_mark (pupil_id, date, session, code, recorded_at)
                    SELECT p.id, d::date, s.name,
                           CASE WHEN random() < (p.id * 7919 %% 100) / 1000.0
                                THEN (CASE WHEN random() < 0.7 THEN 'I' ELSE 'N' END)
                                ELSE (CASE s.name WHEN 'AM' THEN '/' ELSE '\\' END) END,
                           now()
                    FROM pupil p
                    CROSS JOIN generate_series(%(start)s::date, %(end)s::date, interval '1 day') d
                    CROSS JOIN (VALUES ('AM'), ('PM')) s(name)
                    WHERE p.id >= %(first)s AND extract(isodow FROM d) < 6""",
                               {"start": PREVIOUS_HALF_TERM[0], "end": PREVIOUS_HALF_TERM[1], "first": first_pupil})
                # The register of one morning next half-term: about 6% unexplained absences (code N).
                cursor.execute("""
                    INSERT INTO attendance_mark (pupil_id, date, session, code, recorded_at)
                    SELECT p.id, %(day)s, 'AM', CASE WHEN random() < 0.06 THEN 'N' ELSE '/' END, now()
                    FROM pupil p WHERE p.id >= %(first)s""", {"day": ABSENCE_DAY, "first": first_pupil})
                if first_pupil == 1:
                    cursor.execute("INSERT INTO half_term (name, start, \"end\") VALUES "
                                   "('Autumn 2', %s, %s), ('Spring 1', %s, %s)",
                                   (*PREVIOUS_HALF_TERM, NEXT_HALF_TERM, date(2027, 2, 12)))
                    cursor.execute("INSERT INTO inset_day (date) VALUES (%s)", (NEXT_HALF_TERM,))
            connection.commit()
            connection.autocommit = True
            with connection.cursor() as cursor:
                cursor.execute("VACUUM ANALYZE")
        finally:
            raw.close()
            engine.dispose()


def _psycopg(url: str) -> str:
    from gateway.db import normalise_url

    return normalise_url(url)


# Measurement (runs in a fresh subprocess) ---------------------------------------------------------------
def peak_rss_mb() -> float:
    """This process's own peak RSS (VmHWM). ``ru_maxrss`` would be wrong here: across fork+exec Linux
    carries the parent's high-water mark into the child."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    from bench.common import peak_rss_mb as ru_maxrss_mb

    return ru_maxrss_mb()


def measure(url: str) -> dict[str, Any]:
    """Load and plan the fresh-start nudges for every pupil, exactly as ``gateway plan fresh-start`` does;
    timings and this process's peak RSS."""
    from zoneinfo import ZoneInfo

    from sqlalchemy.orm import Session

    from gateway.db import make_engine
    from gateway.resources import config_dir
    from gateway.routing import EscalationLadder, capabilities_from_rendering
    from gateway.routing.school_plans import plan_fresh_start_for_school

    ladder = EscalationLadder.load(config_dir() / "escalation.toml")
    capabilities = capabilities_from_rendering()
    engine = make_engine(url)
    baseline = peak_rss_mb()
    started, cpu_started = time.perf_counter(), time.process_time()
    with Session(engine) as session:
        plan = plan_fresh_start_for_school(session, on_or_after=NEXT_HALF_TERM, now=None,
                                           tz=ZoneInfo("Europe/London"), ladder=ladder, capabilities=capabilities,
                                           recent_counts={}, weekly_cap=2)
    planned, cpu_s = time.perf_counter(), time.process_time() - cpu_started
    peak = peak_rss_mb()
    # What `gateway plan fresh-start --json` then does: stream the document out (here to /dev/null).
    from gateway.routing.plan import write_plan_json

    written = 0
    with open(os.devnull, "w", encoding="utf-8") as sink:
        def write(text: str) -> None:
            nonlocal written
            written += len(text)
            sink.write(text)

        write_plan_json(plan, write)
    serialised = time.perf_counter()
    return {"adults": len(plan.deliveries) + len(plan.suppressed),
            "deliveries": len(plan.deliveries), "suppressed": len(plan.suppressed), "cpu_s": cpu_s,
            "total_s": planned - started, "peak_rss_mb": peak, "baseline_rss_mb": baseline,
            "json_s": serialised - planned, "json_mb": written / 2**20, "peak_rss_with_json_mb": peak_rss_mb()}


def measure_absence(url: str) -> dict[str, Any]:
    """Plan ladder step 2 (everyone with parental responsibility) for one morning's unexplained absences,
    as ``gateway plan absence`` does: load the absent pupils' households, plan (steps 1-2 planned)."""
    from zoneinfo import ZoneInfo

    from sqlalchemy.orm import Session

    from gateway.db import make_engine
    from gateway.resources import config_dir
    from gateway.routing import EscalationLadder, capabilities_from_rendering, plan_absence
    from gateway.routing.loader import load_households, load_unexplained_absences

    ladder = EscalationLadder.load(config_dir() / "escalation.toml")
    capabilities = capabilities_from_rendering()
    engine = make_engine(url)
    started = time.perf_counter()
    with Session(engine) as session:
        absent = load_unexplained_absences(session, ABSENCE_DAY)
        households = load_households(session, absent)
    plan = plan_absence(households, date=ABSENCE_DAY, step=2, ladder=ladder, now=None, tz=ZoneInfo("Europe/London"),
                        capabilities=capabilities, absent_pupil_ids=absent)
    return {"absent": len(absent), "deliveries": len(plan.deliveries), "suppressed": len(plan.suppressed),
            "total_s": time.perf_counter() - started, "peak_rss_mb": peak_rss_mb()}


def _measure_in_subprocess(url: str, mode: str = "--measure") -> dict[str, Any]:
    out = subprocess.run([sys.executable, "-m", "bench.bench_routing", mode, url],
                         check=True, capture_output=True, text=True)
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def run(quick: bool = False) -> list[BenchResult]:
    """Seed 10k (30k, 100k) pupils in a scratch PostgreSQL database and measure each size."""
    if not PG_URL:
        return [BenchResult(ISSUE, "routing fresh-start 100k pupils", 0.0, "s", "< 20 s", None,
                            "skipped: set GATEWAY_BENCH_DATABASE_URL or GATEWAY_TEST_DATABASE_URL")]
    sizes = SIZES[:1] if quick else SIZES
    results: list[BenchResult] = []
    figures: dict[int, dict[str, Any]] = {}
    writer = TrustWriter()
    with scratch_postgres_database(PG_URL) as url:
        for size in sizes:
            seed_started = time.perf_counter()
            writer.grow_to(url, size)
            seed_s = time.perf_counter() - seed_started
            figures[size] = figure = _measure_in_subprocess(url)
            label = f"{size // 1000}k pupils"
            note = (f"{writer.pupils:,} pupils, {figure['adults']:,} adults ({writer.links:,} links, "
                    f"{writer.points:,} contact points); {figure['deliveries']:,} nudges, "
                    f"{figure['suppressed']:,} suppressed; CPU {figure['cpu_s']:.1f} s; seeded in {seed_s:.0f} s")
            is_target = size == 100_000
            results.append(BenchResult(ISSUE, f"routing fresh-start plan, {label}", round(figure["total_s"], 2), "s",
                                       "< 20 s" if is_target else "", figure["total_s"] < 20 if is_target else None,
                                       note))
            results.append(BenchResult(
                ISSUE, f"routing fresh-start peak RSS, {label}", round(figure["peak_rss_mb"], 1), "MB",
                "< 300 MB" if is_target else "", figure["peak_rss_mb"] < 300 if is_target else None,
                f"interpreter+imports {figure['baseline_rss_mb']:.0f} MB; after streaming the --json document "
                f"({figure['json_mb']:.0f} MB, {figure['json_s']:.1f} s) {figure['peak_rss_with_json_mb']:.0f} MB"))
        absence = _measure_in_subprocess(url, "--measure-absence")
        results.append(BenchResult(
            ISSUE, f"routing absence plan step 2, {writer.pupils // 1000}k pupils", round(absence["total_s"], 2), "s",
            "", None, f"{absence['absent']:,} unexplained absences: {absence['deliveries']:,} deliveries, "
                      f"{absence['suppressed']:,} suppressed; peak RSS {absence['peak_rss_mb']:.0f} MB"))
    if len(figures) > 1:
        smallest, largest = min(figures), max(figures)
        growth = figures[largest]["total_s"] / figures[smallest]["total_s"]
        results.append(BenchResult(ISSUE, f"routing time growth {smallest // 1000}k -> {largest // 1000}k",
                                   round(growth, 2), "x", f"~{largest / smallest:.0f}x (linear)", None,
                                   ", ".join(f"{s // 1000}k: {f['total_s']:.2f} s" for s, f in figures.items())))
    return results


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--measure":
        print(json.dumps(measure(sys.argv[2])))
    elif len(sys.argv) == 3 and sys.argv[1] == "--measure-absence":
        print(json.dumps(measure_absence(sys.argv[2])))
    else:
        for result in run(quick="--quick" in sys.argv):
            print(result)
