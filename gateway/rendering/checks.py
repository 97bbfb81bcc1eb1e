"""``gateway templates check``: every template in every locale, and the catalogs behind them.

Fails (one line per problem) when the ``.pot`` is stale against the templates, a catalog lacks a string or
its review-status header, a translation's placeholders differ from the source, a catalog's Plural-Forms
disagrees with CLDR, a translated date pattern cannot be used, a compiled ``.mo`` no longer matches its
``.po`` (we ship the ``.mo``: run ``make i18n``), a template fails to render, or an SMS is over budget
(GSM-7: 2 segments, UCS-2: 3, right-to-left marks included; and within a margin of ``SMS_MARGIN`` units of
that, ``SMS_LIMIT``) with long accented names, two siblings and every count in ``SAMPLE_COUNTS`` (1, 2, 5, 11,
22, 101), and, where each child has their own figure (fresh start), the siblings with different figures.
"""

from __future__ import annotations

import gettext as stdlib_gettext
import itertools
import re
from collections.abc import Iterable
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from gateway.resources import config_dir, locales_dir, templates_dir

from .approved_texts import LocaleApprovals, proposed_approvals
from .catalogs import catalog_from_babel, catalog_path
from .context import KINDS, SampleFigures, sample_contexts
from .dates import DATE_PATTERNS, SMS_DATE_PATTERNS, pattern_problem
from .locales import SOURCE_LOCALE, available_locales, babel_locale
from .renderer import CHANNELS, KEYPAD_KINDS, VARIANTS, TemplateRenderError, render_message
from .review_status import review_status
from .sms import sms_segments

SMS_BUDGET = {"GSM-7": 2, "UCS-2": 3}
# The most an SMS may use with the sample names: its budget less a margin, so a name a few letters longer
# than the samples (or a translator's small edit) still fits. GSM-7: 2 x 153 septets, UCS-2: 3 x 67 units.
SMS_MARGIN = 6
SMS_LIMIT = {"GSM-7": 2 * 153 - SMS_MARGIN, "UCS-2": 3 * 67 - SMS_MARGIN}
REVIEW_HEADER = "X-Review-Status"
_PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")
# A plural form may spell out its number ("one day", Arabic "يوم واحد") instead of printing it.
_OPTIONAL_IN_PLURAL_FORMS = frozenset({"count", "num"})

MessageId = str | tuple[str, ...]


@dataclass
class CheckReport:
    """Problems (one line each) and the SMS figures for every kind x locale x variant."""

    problems: list[str] = field(default_factory=list)
    sms: list[dict[str, Any]] = field(default_factory=list)
    review: list[dict[str, Any]] = field(default_factory=list)  # each language's review status

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "problems": self.problems, "sms": self.sms, "review": self.review}


def _message_key(message_id: Any) -> MessageId:
    return tuple(message_id) if isinstance(message_id, tuple | list) else str(message_id)


def extracted_message_ids(root: Path | None = None) -> set[MessageId]:
    """The msgids that ``pybabel extract -F config/babel.cfg`` finds now (without writing a file)."""
    root = root or templates_dir().parent
    with (config_dir() / "babel.cfg").open() as handle:
        method_map, options_map = parse_mapping_cfg(handle)  # type: ignore[no-untyped-call]
    return {_message_key(found[2]) for found in extract_from_dir(str(root), method_map, options_map)}


def _placeholders(text: str) -> set[str]:
    return set(_PLACEHOLDER.findall(text))


def _check_placeholders(locale: str, message_id: Any, strings: Any, problems: list[str]) -> None:
    if isinstance(message_id, tuple | list):
        source = _placeholders(message_id[0]) | _placeholders(message_id[1])
        for index, form in enumerate(strings):
            found = _placeholders(form)
            if found - source or (source - found) - _OPTIONAL_IN_PLURAL_FORMS:
                problems.append(f"{locale}: placeholders of form {index} of {message_id[0]!r} are "
                                f"{sorted(found)}, the source has {sorted(source)}")
    elif _placeholders(strings) != _placeholders(message_id):
        problems.append(f"{locale}: placeholders of {message_id!r} are {sorted(_placeholders(strings))}, "
                        f"the source has {sorted(_placeholders(message_id))}")


# CLDR's plural categories in the order gettext numbers its forms (msgstr[0], [1], ...).
CLDR_CATEGORY_ORDER = ("zero", "one", "two", "few", "many", "other")


def plural_forms_problem(locale: str, num_plurals: int, plural_expr: str) -> str | None:
    """Why a catalog's Plural-Forms disagrees with CLDR's rule for the language (None when it agrees).

    Both rules are evaluated for n = 0..200: the catalog must give each CLDR category its own form, in CLDR
    order (zero, one, two, few, many, other), and use every form it declares. This catches Babel's old Arabic
    formula, where "many" (11 يومًا) and "other" (100 يوم) were swapped (python-babel/babel#816).
    """
    cldr = babel_locale(locale).plural_form
    catalog_rule = stdlib_gettext.c2py(plural_expr)
    seen: dict[str, set[int]] = {}
    for n in range(201):
        seen.setdefault(cldr(n), set()).add(int(catalog_rule(n)))
    categories = sorted(seen, key=CLDR_CATEGORY_ORDER.index)
    expected = {category: index for index, category in enumerate(categories)}
    wrong = {category: sorted(found) for category, found in seen.items() if found != {expected[category]}}
    if wrong or num_plurals != len(categories):
        return (f"{locale}: Plural-Forms does not follow CLDR (categories {categories} should be forms "
                f"0..{len(categories) - 1}; the catalog's rule gives {wrong or 'the right forms'} and declares "
                f"{num_plurals} forms)")
    return None


def _check_date_patterns(locale: str, catalog: Catalog, problems: list[str]) -> None:
    for context, msgid in DATE_PATTERNS:
        message = catalog.get(msgid, context=context)
        if message is None or not message.string:
            continue  # reported as missing
        problem = pattern_problem(str(message.string), locale, sms=(context, msgid) in SMS_DATE_PATTERNS)
        if problem:
            problems.append(f"{locale}: date pattern {message.string!r} for {msgid!r}: {problem}")


def check_catalog(locale: str, template_ids: set[MessageId]) -> list[str]:
    """Problems of one locale's ``.po``/``.mo``: completeness, placeholders, plural forms, review header, .mo."""
    problems: list[str] = []
    po_path = catalog_path(locale, ".po")
    if not po_path.exists():
        return [f"{locale}: {po_path} is missing"]
    with po_path.open("rb") as handle:
        catalog: Catalog = read_po(handle, locale=locale.replace("-", "_"))
    if REVIEW_HEADER not in (catalog.header_comment or ""):
        problems.append(f"{locale}: {po_path.name} header does not record {REVIEW_HEADER}")
    for message in catalog:
        if not message.id:
            continue
        key = _message_key(message.id)
        if key not in template_ids:
            continue  # obsolete: `make i18n` drops it
        strings = message.string if isinstance(message.string, tuple | list) else (message.string,)
        if message.fuzzy or not all(strings):
            problems.append(f"{locale}: no translation for {key if isinstance(key, str) else key[0]!r}")
            continue
        if isinstance(key, tuple) and len(strings) != catalog.num_plurals:
            problems.append(f"{locale}: {key[0]!r} has {len(strings)} plural forms, the language has "
                            f"{catalog.num_plurals}")
        _check_placeholders(locale, message.id, message.string, problems)
    if catalog.plural_expr:
        plural_problem = plural_forms_problem(locale, catalog.num_plurals, catalog.plural_expr)
        if plural_problem:
            problems.append(plural_problem)
    _check_date_patterns(locale, catalog, problems)
    missing = template_ids - {_message_key(m.id) for m in catalog if m.id}
    for key in sorted(missing, key=str):
        problems.append(f"{locale}: msgid missing from catalog: {key if isinstance(key, str) else key[0]!r}")
    mo_path = catalog_path(locale, ".mo")
    if not mo_path.exists():
        problems.append(f"{locale}: {mo_path.name} is missing (run `make i18n`)")
    else:
        with mo_path.open("rb") as handle:
            compiled = catalog_from_babel(locale, read_mo(handle))
        expected = catalog_from_babel(locale, catalog)
        if (compiled.singular, compiled.plural) != (expected.singular, expected.plural):
            problems.append(f"{locale}: {mo_path.name} does not match {po_path.name} (run `make i18n`)")
    return problems


def check_pot(extracted: set[MessageId]) -> tuple[list[str], set[MessageId]]:
    """Problems of ``locales/messages.pot`` against a fresh extraction, and the .pot's msgids."""
    pot_path = locales_dir() / "messages.pot"
    if not pot_path.exists():
        return [f"{pot_path} is missing (run `make i18n`)"], extracted
    with pot_path.open("rb") as handle:
        pot_ids = {_message_key(m.id) for m in read_po(handle) if m.id}
    problems = []
    if pot_ids != extracted:
        new, gone = len(extracted - pot_ids), len(pot_ids - extracted)
        problems.append(f"{pot_path.name} is stale: {new} new and {gone} removed msgids (run `make i18n`)")
    return problems, pot_ids


def check_renders(locales: Iterable[str]) -> CheckReport:
    """Render every kind x locale x channel x variant (x count) with the long accented sample names.

    Collects problems and one SMS row per kind, locale, variant and count (``count``: the first sibling's;
    ``counts``: each sibling's, when their figures differ).
    """
    report = CheckReport()
    locales = tuple(locales)
    for kind in KINDS:
        for figures, context in sample_contexts(kind):
            _check_kind(report, kind, figures, context, locales)
    return report


def _check_kind(report: CheckReport, kind: str, figures: SampleFigures, context: dict[str, Any],
                locales: tuple[str, ...]) -> None:
    count = figures[0] if figures else None
    label = "" if not figures else f", count {count}" if len(figures) == 1 else \
        f", counts {'/'.join(map(str, figures))}"
    for locale, variant, channel in itertools.product(locales, VARIANTS, CHANNELS):
        where = f"{kind} [{locale}, {channel}, {variant}{label}]"
        try:
            message = render_message(kind, locale=locale, channel=channel, variant=variant, context=context)
        except TemplateRenderError as exc:
            report.problems.append(f"{where}: {exc.detail}")
            continue
        if message.locale != locale:
            report.problems.append(f"{where}: rendered in {message.locale}")
        if message.missing_translations:
            report.problems.append(f"{where}: fell back to en-GB for {len(message.missing_translations)}"
                                   f" string(s), e.g. {message.missing_translations[0]!r}")
        if channel == "voice" and message.voice is not None and kind in KEYPAD_KINDS and not message.voice.prompt:
            report.problems.append(f"{where}: keypad prompt missing")
        if channel == "sms" and message.encoding and message.segments is not None:
            budget, limit = SMS_BUDGET[message.encoding], SMS_LIMIT[message.encoding]
            characters = sms_segments(message.text).characters
            row: dict[str, Any] = {"kind": kind, "locale": locale, "variant": variant, "count": count,
                                   "encoding": message.encoding, "segments": message.segments,
                                   "characters": characters, "budget": budget, "limit": limit}
            if figures and len(figures) > 1:
                row["counts"] = list(figures)
            report.sms.append(row)
            problem = sms_length_problem(message.encoding, message.segments, characters)
            if problem:
                report.problems.append(f"{where}: {problem}")


def sms_length_problem(encoding: str, segments: int, characters: int) -> str | None:
    """Why an SMS is too long (None when it fits): over its budget of segments, or over ``SMS_LIMIT``."""
    budget, limit = SMS_BUDGET[encoding], SMS_LIMIT[encoding]
    if segments > budget:
        return f"{segments} segments in {encoding} (budget {budget})"
    if characters > limit:
        return (f"{characters} {encoding} units, over the limit of {limit} ({budget} segments less a margin "
                f"of {SMS_MARGIN})")
    return None


@dataclass(frozen=True)
class SmsRender:
    """One SMS as ``templates check`` renders it: kind, variant, sample figures, text and its length."""

    kind: str
    variant: str
    figures: SampleFigures
    text: str
    encoding: str
    segments: int
    characters: int

    @property
    def problem(self) -> str | None:
        return sms_length_problem(self.encoding, self.segments, self.characters)


def sms_renders(locale: str, kinds: Iterable[str] = KINDS, *,
                overrides: LocaleApprovals | None = None) -> list[SmsRender]:
    """Every SMS ``templates check`` renders in ``locale`` (kind x variant x sample figures, the same names).

    ``overrides``: texts laid over the catalog as if approved (nothing is stored), to check a reviewer's text
    before it is approved. Raises :class:`TemplateRenderError` when a message cannot be rendered.
    """
    renders = []
    with proposed_approvals(overrides) if overrides is not None else nullcontext():
        for kind in kinds:
            for (figures, context), variant in itertools.product(sample_contexts(kind), VARIANTS):
                message = render_message(kind, locale=locale, channel="sms", variant=variant, context=context)
                if message.encoding and message.segments is not None:
                    renders.append(SmsRender(kind, variant, figures, message.text, message.encoding,
                                             message.segments, sms_segments(message.text).characters))
    return renders


def check_templates(*, include_pot: bool = True) -> CheckReport:
    """Everything ``gateway templates check`` verifies, as one report."""
    locales = available_locales()
    problems: list[str] = []
    if include_pot:
        extracted = extracted_message_ids()
        pot_problems, _pot_ids = check_pot(extracted)
        problems += pot_problems
    else:
        with (locales_dir() / "messages.pot").open("rb") as handle:
            extracted = {_message_key(m.id) for m in read_po(handle) if m.id}
    for locale in locales:
        if locale != SOURCE_LOCALE:
            problems += check_catalog(locale, extracted)
    report = check_renders(locales)
    report.problems[:0] = problems
    # Draft, partly reviewed or reviewed: the catalog header, and the approvals when a database is configured.
    report.review = [review_status(locale).as_dict() for locale in locales if locale != SOURCE_LOCALE]
    return report
