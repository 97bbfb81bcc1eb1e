"""``make bench``: run every ``bench/bench_*.py`` module's ``run(quick)``; print a table; write var/bench.json.

Options: ``--quick`` (smaller sizes, for a smoke run), ``--only NAME`` (a module, e.g. ``--only import``).
PostgreSQL and Redis figures need GATEWAY_BENCH_DATABASE_URL / GATEWAY_BENCH_REDIS_URL (or the TEST ones).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import pkgutil
import platform
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

import bench
from bench.common import BenchResult


def machine() -> dict[str, object]:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {"python": platform.python_version(), "platform": platform.platform(), "cpu": cpu,
            "cores": os.cpu_count(), "memory_gib": round(mem_gb, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", action="append", default=[])
    args = parser.parse_args()
    names = sorted(m.name for m in pkgutil.iter_modules(bench.__path__) if m.name.startswith("bench_"))
    if args.only:
        names = [n for n in names if n.removeprefix("bench_") in args.only or n in args.only]
    console = Console(width=None if sys.stdout.isatty() else 170)
    results: list[BenchResult] = []
    failures: list[str] = []
    started = time.perf_counter()
    for name in names:
        console.print(f"[bold]{name}[/bold] …")
        try:
            module = importlib.import_module(f"bench.{name}")
            results.extend(module.run(quick=args.quick))
        except Exception:  # one broken benchmark must not hide the others' figures
            failures.append(name)
            traceback.print_exc()
    table = Table(title=f"Benchmarks ({'quick' if args.quick else 'full'}) on {machine()['cpu']}")
    for column in ("issue", "benchmark", "value", "unit", "target", "ok", "note"):
        table.add_column(column)
    for r in results:
        ok = "" if r.ok is None else ("yes" if r.ok else "NO")
        table.add_row(str(r.issue), r.name, f"{r.value:,.3f}".rstrip("0").rstrip("."), r.unit, r.target, ok, r.note)
    console.print(table)
    out = Path("var") / "bench.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"when": datetime.now(UTC).isoformat(), "machine": machine(), "quick": args.quick,
                               "seconds": round(time.perf_counter() - started, 1),
                               "results": [r.as_dict() for r in results], "failed": failures}, indent=2))
    console.print(f"written to {out}; took {time.perf_counter() - started:.0f} s")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
