"""Issue 3: SMS renders per second per core, across every locale, kind and variant (long realistic names).

One process, one thread, timed in CPU seconds of this process (``time.process_time``): the figure is per
core and stays honest on a busy shared machine; the wall-clock rate is in the note. Templates and catalogs
are warmed first (they are compiled and cached once per process in production too); each render is a full
``render_message`` call: gettext, Babel date and name list, look-alike normalisation and the segment count.
"""

from __future__ import annotations

import itertools
import time

from bench.common import BenchResult
from gateway.rendering import KINDS, VARIANTS, available_locales, render_message, sample_context

TARGET_PER_SECOND = 20_000


def run(quick: bool = False) -> list[BenchResult]:
    """Render SMS for every kind x locale x variant in a loop and report renders per second."""
    locales = available_locales()
    contexts = {kind: sample_context(kind) for kind in KINDS}
    jobs = list(itertools.product(KINDS, locales, VARIANTS))
    for kind, locale, variant in jobs:  # warm the template and catalog caches
        render_message(kind, locale=locale, channel="sms", variant=variant, context=contexts[kind])
    rounds = 20 if quick else 200
    wall_started, cpu_started = time.perf_counter(), time.process_time()
    for _ in range(rounds):
        for kind, locale, variant in jobs:
            render_message(kind, locale=locale, channel="sms", variant=variant, context=contexts[kind])
    wall, cpu = time.perf_counter() - wall_started, time.process_time() - cpu_started
    renders = rounds * len(jobs)
    per_second = renders / cpu
    return [BenchResult(issue=3, name="SMS renders per second per core (all locales)", value=round(per_second),
                        unit="renders/s", target=f">= {TARGET_PER_SECOND:,}", ok=per_second >= TARGET_PER_SECOND,
                        note=f"{renders:,} renders, {len(locales)} locales x {len(KINDS)} kinds x 2 variants, "
                             f"1 thread, CPU time; wall clock {renders / wall:,.0f}/s")]
