"""Right-to-left text: every inserted value isolated, every message opened with a right-to-left mark.

Arabic and Urdu messages carry Latin names, a school name and digits. Without marks a phone lays a message
out from its first strong character (often the Latin school name), so the Arabic runs come out in the wrong
order and "01632 960123" shows as "960123 01632". For right-to-left locales the renderer therefore:

- starts SMS, voice text, e-mail subjects and plain-text bodies with RIGHT-TO-LEFT MARK (U+200F);
- wraps every inserted value (each child's name, the school, staff, recipient, phone, dates, counts) in
  FIRST STRONG ISOLATE (U+2068) ... POP DIRECTIONAL ISOLATE (U+2069) in text, and in ``<bdi>`` in HTML.

All of this happens here and in the renderer, once, never in templates or catalogs. The marks are UCS-2
characters, so SMS segments are counted on the final text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from markupsafe import Markup, escape

RLM = "\u200f"
FSI = "\u2068"
PDI = "\u2069"

Isolate = Callable[[Any], Any]

# Arabic "و" (and) is written joined to the next word; before a (Latin, isolated) name it must stand alone.
# The list is joined with numbered slots first, so only the conjunction is touched, never a name.
_SLOT = "\x00{}\x00"
_GLUED_ARABIC_AND = re.compile(r"(?:(?<=\s)|^)و(?=\x00)")


def isolate_text(value: Any) -> str:
    """``value`` between FSI and PDI (idempotent: an isolated value is not wrapped twice)."""
    text = str(value)
    if text.startswith(FSI) and text.endswith(PDI):
        return text
    return f"{FSI}{text}{PDI}"


def isolate_html(value: Any) -> Markup:
    """``value`` escaped inside ``<bdi>`` (a value that is already Markup is kept as it is)."""
    if isinstance(value, Markup):
        return value if value.startswith("<bdi>") else Markup("<bdi>%s</bdi>") % value
    return Markup("<bdi>%s</bdi>") % escape(value)


def join_with_arabic_and(names: Sequence[str], join: Callable[[list[str]], str]) -> str:
    """``join`` (a locale's list pattern) applied to ``names`` with "و" standing apart: ``A و B``, not ``A وB``."""
    slots = [_SLOT.format(index) for index in range(len(names))]
    joined = _GLUED_ARABIC_AND.sub("و ", join(slots))
    for slot, name in zip(slots, names, strict=True):
        joined = joined.replace(slot, name)
    return joined


def open_right_to_left(text: str) -> str:
    """Start ``text`` with a right-to-left mark (once)."""
    return text if text.startswith(RLM) else RLM + text
