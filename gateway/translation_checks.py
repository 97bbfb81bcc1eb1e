"""Checks on a reviewer's translation before it is approved: placeholders, plural forms, date patterns.

Each problem is one sentence a reviewer can act on ("The translation leaves out %(children)s ...").
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from gateway.rendering.dates import DATE_PATTERNS, SMS_DATE_PATTERNS, pattern_problem

# ``%(name)s`` (what the templates use) and ``{name}`` (format-style); a number may be ``%(num)d``.
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]|\{\w+\}")
_ESCAPED_PERCENT = "%%"
# A plural form may spell out its number ("one day", Arabic "يوم واحد") instead of printing it.
OPTIONAL_IN_PLURAL_FORMS = frozenset({"%(count)s", "%(num)s", "%(count)d", "%(num)d", "{count}", "{num}"})


def placeholders(text: str) -> list[str]:
    """The placeholders in ``text``, in order, each once."""
    return list(dict.fromkeys(PLACEHOLDER.findall(text)))


def placeholder_runs(text: str) -> list[tuple[str, bool]]:
    """``text`` split into (run, is_placeholder) pieces, so a page can isolate each placeholder left to right in a
    right-to-left text (``%(recipient)s`` otherwise shows as ``s(recipient)%``)."""
    runs: list[tuple[str, bool]] = []
    end = 0
    for match in PLACEHOLDER.finditer(text):
        if match.start() > end:
            runs.append((text[end:match.start()], False))
        runs.append((match.group(), True))
        end = match.end()
    if end < len(text):
        runs.append((text[end:], False))
    return runs


def _listed(names: Sequence[str]) -> str:
    return ", ".join(names) if names else "none"


def _form_problems(text: str, source: list[str], where: str, *, optional: frozenset[str]) -> list[str]:
    problems = []
    if not text.strip():
        return [f"{where} is empty."]
    found = placeholders(text)
    missing = [name for name in source if name not in found and name not in optional]
    unknown = [name for name in found if name not in source]
    if missing:
        problems.append(f"{where} leaves out {_listed(missing)}: keep every placeholder of the English text "
                        f"({_listed(source)}).")
    if unknown:
        problems.append(f"{where} has {_listed(unknown)}, which the English text does not: use only "
                        f"{_listed(source)}.")
    if "%" in PLACEHOLDER.sub("", text).replace(_ESCAPED_PERCENT, ""):
        problems.append(f"{where} has a % that is not a placeholder: write %% for a per cent sign.")
    problems += _foreign_content(text, where)
    return problems


# An approved text goes into parents' e-mails as it is (the HTML is built around it) from a web form, so it may
# carry no markup and no link or address the school did not write: a reviewer's account could otherwise phish.
_LINK = re.compile(r"[a-z][a-z0-9+.-]*://|www\.|\S@\S", re.IGNORECASE)


def _foreign_content(text: str, where: str) -> list[str]:
    problems = []
    if "<" in text or ">" in text:
        problems.append(f"{where} has < or >: messages are plain text, so leave out any markup.")
    if _LINK.search(text):
        problems.append(f"{where} has a web link or e-mail address: the English text has none, and the school's "
                        "contact details are filled in by the placeholders.")
    return problems


def translation_problems(locale: str, *, msgctxt: str, msgid: str, msgid_plural: str | None,
                         forms: Sequence[str], num_plurals: int, form_labels: Sequence[str] = ()) -> list[str]:
    """Why ``forms`` cannot be approved as the translation of the message (an empty list: it can).

    A singular message has one form; a plural one needs every form of the language (``num_plurals``), each
    with the English placeholders (the number itself may be spelled out).
    """
    if msgid_plural is None:
        if len(forms) != 1:
            return [f"Expected one text, got {len(forms)}."]
        problems = _form_problems(forms[0], placeholders(msgid), "The translation", optional=frozenset())
        if not problems and (msgctxt, msgid) in DATE_PATTERNS:
            problem = pattern_problem(forms[0], locale, sms=(msgctxt, msgid) in SMS_DATE_PATTERNS)
            if problem:
                problems.append(f"The date pattern cannot be used: {problem}.")
        return problems
    if len(forms) != num_plurals:
        return [f"The language has {num_plurals} plural forms; {len(forms)} were given: fill in every form."]
    source = placeholders(msgid) + [name for name in placeholders(msgid_plural) if name not in placeholders(msgid)]
    problems = []
    for index, form in enumerate(forms):
        label = form_labels[index] if index < len(form_labels) else f"form {index + 1}"
        problems += _form_problems(form, source, f"Plural {label}", optional=OPTIONAL_IN_PLURAL_FORMS)
    return problems
