"""SMS keywords: opt-out, opt-in and help, as Twilio's Advanced Opt-Out decides them.

When the school's Twilio number has Advanced Opt-Out, Twilio has already acted on the text (it opts the number
out or in, including for custom keywords configured there) and says so in the webhook's ``OptOutType``
(STOP, START or HELP): that verdict is trusted. Without it, Twilio's default keywords apply, matched on the
whole message ignoring case, spaces and punctuation (" stop ", "Stop.", "revoke", "opt out").
"""

from __future__ import annotations

import re
from typing import Literal

Keyword = Literal["STOP", "START", "HELP"]

OPT_OUT_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"})
OPT_IN_WORDS = frozenset({"START", "YES", "UNSTOP"})
HELP_WORDS = frozenset({"HELP", "INFO"})
_OPT_OUT_TYPES: dict[str, Keyword] = {"STOP": "STOP", "START": "START", "HELP": "HELP"}
_IGNORED = re.compile(r"[\W_]+")  # spaces and punctuation (any script's letters and digits are kept)


def normalise(body: str) -> str:
    """The message as a keyword candidate: upper case, without spaces or punctuation."""
    return _IGNORED.sub("", body).upper()


def keyword_for(body: str, opt_out_type: str | None = None) -> Keyword | None:
    """STOP, START or HELP when this text is one (Twilio's ``OptOutType`` first), else None."""
    verdict = _OPT_OUT_TYPES.get((opt_out_type or "").strip().upper())
    if verdict is not None:
        return verdict
    word = normalise(body)
    if word in OPT_OUT_WORDS:
        return "STOP"
    if word in OPT_IN_WORDS:
        return "START"
    if word in HELP_WORDS:
        return "HELP"
    return None


def help_text(school: dict[str, str]) -> str:
    """The answer to HELP: who is texting and how to reach them (``school`` as in message contexts)."""
    return (f"{school['name']}: these texts are about your child's attendance. For help contact "
            f"{school['phone']}. Reply STOP to stop them, START to get them again.")
