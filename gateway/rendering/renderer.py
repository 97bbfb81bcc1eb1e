"""``render_message``: one message, one kind, one locale, one channel, one variant.

Templates live in ``templates/<kind>/`` (standard wording) and ``templates/<kind>/plain/`` (the plain
variant for parents with literacy needs: short sentences, common words). Each folder has ``sms.txt``,
``voice.txt``, ``email_subject.txt``, ``email_body.txt`` and ``email_body.html``; the HTML extends
``layout/email_base.html``, and the keypad prompt of absence calls is ``layout/keypad.txt``.

Templates see only prepared values (see ``_template_values``): names already joined in the locale's
way ("Amira and Yusuf", "Amira i Yusuf"), dates already formatted by Babel with the catalog's own pattern
(``dates.py``), half-term names translated, counts for plurals. In Arabic and Urdu every text starts with a
right-to-left mark and every inserted value is isolated (``bidi.py``); segments are counted on that text.

Until a language's translations are reviewed by people (``review_status.py``), its e-mails carry the English
text below the translation: after ``ENGLISH_SEPARATOR`` in the plain-text part, and in a ``lang="en"
dir="ltr"`` block headed "English" at the end of the HTML (``layout/email_base.html``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Any, Literal

from babel.lists import format_list
from jinja2 import TemplateNotFound, UndefinedError
from markupsafe import Markup

from gateway.errors import GatewayError

from .bidi import Isolate, isolate_html, isolate_text, join_with_arabic_and, open_right_to_left
from .catalogs import MessageCatalog, load_catalog
from .context import KIND_FIELDS, KINDS, ContextError, counts_per_pupil
from .dates import ABSENCE_DAY, START_DAY, START_DAY_SMS, format_day, half_term_msgid
from .each_child import each_child_missed, figures_differ
from .environment import MessageTranslator, get_template
from .locales import RIGHT_TO_LEFT, SOURCE_LOCALE, babel_locale, resolve_locale, text_direction
from .review_status import is_reviewed
from .sms import Encoding, normalise_sms_text, sms_segments
from .voice import VoiceSpec, voice_for_locale, with_prompt

Channel = Literal["sms", "email", "voice"]
Variant = Literal["standard", "plain"]
CHANNELS: tuple[Channel, ...] = ("sms", "email", "voice")
VARIANTS: tuple[Variant, ...] = ("standard", "plain")

# Kinds whose voice call ends with the keypad question (1 ill, 2 appointment, 3 call me).
KEYPAD_KINDS = frozenset({"absence_first_day", "absence_followup", "absence_continuing"})

_BLANK_LINES = re.compile(r"\n\s*\n\s*")
# The plain-text part of an e-mail in a language not yet reviewed: the translation, this, the English text.
ENGLISH_SEPARATOR = "\n\n————————————\nEnglish:\n\n"
LRM = "\u200e"
_SOURCE_CATALOG = MessageCatalog(SOURCE_LOCALE, is_source=True)
_ENGLISH_SEPARATOR_FOUND = re.compile(f"\n\n{LRM}?—+\n{LRM}?English:\n\n")


class TemplateRenderError(GatewayError):
    """A message could not be rendered; says which kind, locale, channel and what (e.g. the missing field)."""

    def __init__(self, kind: str, locale: str, channel: str, detail: str) -> None:
        self.kind, self.locale, self.channel, self.detail = kind, locale, channel, detail
        super().__init__(f"{kind} [{locale}, {channel}]: {detail}")


@dataclass(frozen=True)
class RenderedMessage:
    """The words of one message, ready for a channel. See ARCHITECTURE.md ("Rendering")."""

    kind: str
    locale: str
    channel: str
    variant: str
    text: str
    subject: str | None = None
    html: str | None = None
    voice: VoiceSpec | None = None
    segments: int | None = None
    encoding: Encoding | None = None
    missing_translations: tuple[str, ...] = ()


@lru_cache(maxsize=8192)
def _join_names(names: tuple[str, ...], locale: str) -> str:
    def join(items: list[str]) -> str:
        return format_list(items, locale=babel_locale(locale))

    return join_with_arabic_and(names, join) if locale == "ar" else join(list(names))


@lru_cache(maxsize=1024)
def _spoken_phone(phone: str) -> str:
    # "01632 960123" -> "0 1 6 3 2, 9 6 0 1 2 3": text-to-speech reads digits one by one, pausing at groups.
    # Anything that is not a phone number ("the school office") is spoken as written.
    if sum(ch.isdigit() for ch in phone) < 6 or any(ch.isalpha() for ch in phone):
        return phone
    groups = [" ".join(ch for ch in group if ch.isdigit() or ch == "+") for group in phone.split()]
    return ", ".join(g for g in groups if g)


def _field(context: Mapping[str, Any], kind: str, path: str) -> Any:
    value: Any = context
    for part in path.split("."):
        try:
            value = value[part]
        except (KeyError, TypeError, IndexError):
            value = None
        if value is None:
            raise ContextError(kind, path, "missing")
    return value


def _day_field(context: Mapping[str, Any], kind: str, path: str) -> date:
    value = _field(context, kind, path)
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ContextError(kind, path, f"expected a date (YYYY-MM-DD), got {value!r}") from None


def _count_field(context: Mapping[str, Any], kind: str, path: str) -> int:
    value = _field(context, kind, path)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ContextError(kind, path, f"expected a whole number of 0 or more, got {value!r}")
    return value


# Prepared values placed into sentences: isolated as a whole in right-to-left locales ("children" is
# isolated name by name before it is joined, so the conjunction stays in the message's own direction).
_INSERTED = ("school", "staff", "phone", "recipient", "day", "start", "half_term")


def _template_values(kind: str, locale: str, channel: Channel, context: Mapping[str, Any],
                     translator: MessageTranslator, isolate: Isolate | None) -> dict[str, Any]:
    pupils = _field(context, kind, "pupils")
    if not pupils:
        raise ContextError(kind, "pupils", "at least one pupil is needed")
    full_names = channel == "email"  # a letter names each child in full; texts and calls use first names
    names = tuple(
        f"{_field(p, kind, 'forename')} {_field(p, kind, 'surname')}" if full_names
        else str(_field(p, kind, "forename"))
        for p in pupils
    )
    recipient = _field(context, kind, "recipient")
    day = _day_field(context, kind, "date")
    phone = str(_field(context, kind, "school.phone"))
    sms = channel == "sms"
    values: dict[str, Any] = {
        "school": _field(context, kind, "school.name"),
        "staff": _field(context, kind, "school.staff_name"),
        "phone": _spoken_phone(phone) if channel == "voice" else phone,
        "recipient": f"{_field(recipient, kind, 'forename')} {_field(recipient, kind, 'surname')}",
        "day": format_day(day, translator.pgettext(*ABSENCE_DAY), locale),
    }
    fields = KIND_FIELDS.get(kind, {})
    if "days_absent" in fields:
        values["count"] = _count_field(context, kind, "days_absent")
    elif "days_missed" in fields:
        # Each child's own figure: with one figure (one child, or the same for all) the one-figure sentence,
        # otherwise each child named with theirs (``missed_each``, below).
        missed = counts_per_pupil(kind, "days_missed", _field(context, kind, "days_missed"), len(names))
        values["count"] = max(missed)
        values["figures_differ"] = figures_differ(missed)
        start = _day_field(context, kind, "start_date")
        values["start"] = format_day(start, translator.pgettext(*(START_DAY_SMS if sms else START_DAY)), locale)
        half_term = str(_field(context, kind, "half_term_name"))
        known = half_term_msgid(half_term)
        values["half_term"] = translator.pgettext(*known) if known else half_term
    elif "improved_sessions" in fields:
        values["count"] = max(1, _count_field(context, kind, "improved_sessions") // 2)
    if isolate is not None:
        names = tuple(isolate(name) for name in names)
        values.update({key: isolate(values[key]) for key in _INSERTED if key in values})
    joined = _join_names(names, locale)
    if values.get("figures_differ"):
        each = _join_names(each_child_missed(names, missed, translator, isolate), locale)
        values["missed_each"] = Markup(each) if isolate is isolate_html else each  # noqa: S704 - escaped
    # In HTML each name is already escaped inside <bdi>; the list pattern between them is CLDR text.
    values["children"] = Markup(joined) if isolate is isolate_html else joined  # noqa: S704
    values["pupil_count"] = len(names)  # plural by the number of children: agreement in pl and others
    values["lang"] = locale
    values["direction"] = text_direction(locale)
    return values


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _paragraphs(text: str) -> str:
    lines = "\n".join(line.strip() for line in text.strip().splitlines())
    return _BLANK_LINES.sub("\n\n", lines)


def split_english_copy(text: str) -> tuple[str, str | None]:
    """An e-mail's plain text as (the translation, the English copy below it or None)."""
    found = _ENGLISH_SEPARATOR_FOUND.search(text)
    if found is None:
        return text, None
    return text[:found.start()], text[found.end():]


def _english_copy(kind: str, folder: str, context: Mapping[str, Any], right_to_left: bool) -> tuple[str, Markup]:
    """The e-mail's body in English: the plain text, and the HTML template's content block."""
    translator = MessageTranslator(_SOURCE_CATALOG)
    values = _template_values(kind, SOURCE_LOCALE, "email", context, translator, None)
    values.update(gettext=translator.gettext, ngettext=translator.ngettext, english=None)
    values["subject"] = _one_line(get_template(f"{folder}/email_subject.txt").render(values))
    text = _paragraphs(get_template(f"{folder}/email_body.txt").render(values))
    if right_to_left:  # each English line opens left to right in a mail client that shows the part as RTL
        text = "\n".join(LRM + line if line else line for line in text.split("\n"))
    template = get_template(f"{folder}/email_body.html")
    html = "".join(template.blocks["content"](template.new_context(values)))
    return text, Markup(html)  # noqa: S704 - rendered by the autoescaping template


def render_message(
    kind: str,
    *,
    locale: str,
    channel: Channel,
    variant: Variant = "standard",
    context: Mapping[str, Any],
) -> RenderedMessage:
    """Render one message. Raises :class:`TemplateRenderError` naming kind, locale, channel and the problem.

    ``locale`` is resolved with :func:`resolve_locale` (``pl-PL`` -> ``pl``; unknown -> ``en-GB``); the
    result's ``locale`` is the one actually written in. Strings missing from the catalog fall back to the
    en-GB source and are listed in ``missing_translations``.
    """
    resolved, _why = resolve_locale(locale)
    if kind not in KINDS:
        raise TemplateRenderError(kind, resolved, channel, f"unknown kind; expected one of {', '.join(KINDS)}")
    if channel not in CHANNELS or variant not in VARIANTS:
        raise TemplateRenderError(kind, resolved, channel, f"unknown channel {channel!r} or variant {variant!r}")
    folder = kind if variant == "standard" else f"{kind}/plain"
    translator = MessageTranslator(load_catalog(resolved))
    rtl = resolved in RIGHT_TO_LEFT
    text_isolate: Isolate | None = isolate_text if rtl else None

    def opened(text: str) -> str:
        return open_right_to_left(text) if rtl else text

    def done(**parts: Any) -> RenderedMessage:
        return RenderedMessage(kind, resolved, channel, variant, missing_translations=tuple(
            dict.fromkeys(translator.missing)), **parts)

    try:
        values = _template_values(kind, resolved, channel, context, translator, text_isolate)
        values["gettext"], values["ngettext"] = translator.gettext, translator.ngettext
        translator.isolate = text_isolate
        if channel == "sms":
            text = opened(normalise_sms_text(_one_line(get_template(f"{folder}/sms.txt").render(values))))
            info = sms_segments(text)
            return done(text=text, segments=info.segments, encoding=info.encoding)
        if channel == "voice":
            text = opened(_one_line(get_template(f"{folder}/voice.txt").render(values)))
            spec = voice_for_locale(resolved)
            if spec is not None and kind in KEYPAD_KINDS:
                spec = with_prompt(spec, opened(_one_line(get_template("layout/keypad.txt").render(values))))
            return done(text=text, voice=spec)
        subject = opened(_one_line(get_template(f"{folder}/email_subject.txt").render(values)))
        values["subject"] = subject
        body = _paragraphs(get_template(f"{folder}/email_body.txt").render(values))
        english_text, english_html = (None, None) if is_reviewed(resolved) else \
            _english_copy(kind, folder, context, rtl)
        if rtl:
            body = "\n".join(opened(line) if line else line for line in body.split("\n"))
            html_values = _template_values(kind, resolved, channel, context, translator, isolate_html)
            html_values.update(gettext=translator.gettext, ngettext=translator.ngettext, subject=subject)
            translator.isolate = isolate_html
        else:
            html_values = values
        html_values["english"] = english_html
        html = get_template(f"{folder}/email_body.html").render(html_values)
        if english_text is not None:
            separator = ENGLISH_SEPARATOR.replace("\n—", f"\n{LRM}—").replace("\nEnglish", f"\n{LRM}English") \
                if rtl else ENGLISH_SEPARATOR
            body += separator + english_text
        return done(text=body, subject=subject, html=html)
    except ContextError as exc:
        raise TemplateRenderError(kind, resolved, channel, f"context field {exc.field!r}: {exc.problem}") from exc
    except UndefinedError as exc:
        raise TemplateRenderError(kind, resolved, channel, f"template value {exc.message}") from exc
    except TemplateNotFound as exc:
        raise TemplateRenderError(kind, resolved, channel, f"template {exc.name} not found") from exc
