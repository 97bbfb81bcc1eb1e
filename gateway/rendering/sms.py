"""SMS segments: what a school pays for.

GSM-7 carries 160 septets in one segment and 153 per segment of a longer message (the rest is the
concatenation header); characters of the GSM extension table (``^ { } \\ [ ~ ] | €`` and form feed) take
two septets and are never split across segments. One character outside GSM-7 turns the whole message into
UCS-2: 70 UTF-16 code units, then 67 per segment, and a surrogate pair (an emoji) is never split.

Typographic look-alikes (curly quotes, dashes, ellipsis, non-breaking spaces) are replaced with their GSM
equivalents *before* counting, in every locale, so one curly apostrophe never doubles the cost.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXTENSION = frozenset("^{}\\[~]|€\f")
_GSM_ALL = GSM_BASIC | GSM_EXTENSION

# Look-alike punctuation and spaces -> GSM characters. Guillemets become plain quotes; zero-width and soft
# hyphen characters are dropped because they are invisible yet would force UCS-2.
_LOOKALIKES: dict[str, str] = {
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'", "\u02bc": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"', "\u00ab": '"', "\u00bb": '"',
    "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2015": "-", "\u2212": "-",
    "\u2026": "...", "\u2022": "-",
    "\u00a0": " ", "\u2007": " ", "\u2009": " ", "\u200a": " ", "\u202f": " ", "\u2002": " ", "\u2003": " ",
    "\u200b": "", "\u200c": "", "\u200d": "", "\u2060": "", "\ufeff": "", "\u00ad": "",
}
# A regex finds the (rare) look-alikes far faster than str.translate() walks every character.
_LOOKALIKE_PATTERN = re.compile("[" + "".join(_LOOKALIKES) + "]")

GSM_SINGLE, GSM_MULTI = 160, 153
UCS2_SINGLE, UCS2_MULTI = 70, 67

Encoding = Literal["GSM-7", "UCS-2"]


@dataclass(frozen=True)
class SegmentInfo:
    """How a text travels: its encoding, the number of segments, and its length in billing units.

    ``characters`` counts septets for GSM-7 (an extension-table character counts 2) and UTF-16 code units
    for UCS-2 (an emoji outside the Basic Multilingual Plane counts 2).
    """

    encoding: Encoding
    segments: int
    characters: int


def normalise_sms_text(text: str) -> str:
    """Replace typographic look-alikes with GSM characters (every locale; Arabic keeps its own commas)."""
    if _LOOKALIKE_PATTERN.search(text) is None:
        return text
    return _LOOKALIKE_PATTERN.sub(lambda found: _LOOKALIKES[found.group()], text)


def is_gsm7(text: str) -> bool:
    """True when every character of ``text`` is in the GSM-7 basic or extension table."""
    return _GSM_ALL.issuperset(text)


def _pack(units: list[int], per_segment: int) -> int:
    """Greedy split of indivisible units (1 or 2 long) into segments of ``per_segment``."""
    segments, used = 1, 0
    for size in units:
        if used + size > per_segment:
            segments += 1
            used = 0
        used += size
    return segments


def sms_segments(text: str) -> SegmentInfo:
    """Count the segments of ``text`` as sent (call :func:`normalise_sms_text` first; the renderer does)."""
    if is_gsm7(text):
        extension = sum(1 for ch in text if ch in GSM_EXTENSION)
        septets = len(text) + extension
        if septets <= GSM_SINGLE:
            return SegmentInfo("GSM-7", 1, septets)
        if not extension:
            return SegmentInfo("GSM-7", -(-septets // GSM_MULTI), septets)
        units = [2 if ch in GSM_EXTENSION else 1 for ch in text]
        return SegmentInfo("GSM-7", _pack(units, GSM_MULTI), septets)
    total = len(text.encode("utf-16-le")) // 2
    if total <= UCS2_SINGLE:
        return SegmentInfo("UCS-2", 1, total)
    if total == len(text):  # no surrogate pairs: nothing indivisible
        return SegmentInfo("UCS-2", -(-total // UCS2_MULTI), total)
    code_units = [2 if ord(ch) > 0xFFFF else 1 for ch in text]
    return SegmentInfo("UCS-2", _pack(code_units, UCS2_MULTI), total)
