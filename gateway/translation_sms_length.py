"""A reviewer's text checked against the SMS length budget before it is approved.

Every SMS that uses the message is rendered with the text laid over the catalog (and the language's other
approved texts), nothing stored, exactly as ``gateway templates check`` renders it: the long accented sample
names, two siblings, each sample count (``gateway.rendering.checks.sms_renders``); and it is held to the same
rule (``SmsRender.problem``: over the segment budget, or over ``SMS_LIMIT``). Which SMS use the message is
found by rendering them once with a marker appended to the text (so date patterns and half-term names, used
inside the messages, are found too).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from gateway import clock
from gateway.rendering.approved_texts import ApprovedText, LocaleApprovals
from gateway.rendering.checks import SMS_LIMIT, SmsRender, sms_renders
from gateway.rendering.context import KINDS
from gateway.rendering.renderer import TemplateRenderError

if TYPE_CHECKING:
    from gateway.translation_review import CatalogMessage

# A private-use character: no catalog or sample name has it, and SMS normalisation leaves it alone.
_MARKER = "\ue000"
# Sentences shown when a text makes many SMS too long (the rest are counted).
SHOWN_PROBLEMS = 3


@dataclass(frozen=True)
class SmsLengthCheck:
    """How many SMS renders use the message, and why the text would make one too long (one sentence each)."""

    checked: int
    problems: tuple[str, ...]


def _with_text(approvals: LocaleApprovals, message: CatalogMessage, forms: Sequence[str]) -> LocaleApprovals:
    proposed = ApprovedText(message.msgctxt, message.msgid, tuple(forms), approved_by="", approved_at=clock.now())
    return LocaleApprovals(approvals.locale, {**approvals.messages, (message.msgctxt, message.msgid): proposed})


def _figures(render: SmsRender) -> str:
    if not render.figures:
        return "two children"
    if len(render.figures) == 1:
        return f"two children, count {render.figures[0]}"
    return f"two children, counts {' and '.join(map(str, render.figures))}"


def _sentence(render: SmsRender) -> str:
    kind = render.kind.replace("_", " ")
    return (f"Too long for a text message: the {kind} SMS ({render.variant} variant, {_figures(render)}) would "
            f"be {render.characters} {render.encoding} units ({render.segments} segments), over the limit of "
            f"{SMS_LIMIT[render.encoding]}. Shorten the translation.")


def sms_length_check(approvals: LocaleApprovals, message: CatalogMessage,
                     forms: Sequence[str]) -> SmsLengthCheck:
    """Render every SMS of ``approvals.locale`` that uses ``message`` with ``forms`` in place of its text
    (and ``approvals``, the language's approved texts, in place of theirs).

    Call it once the placeholders are right (with a wrong one the renderer falls back to English).
    """
    locale = approvals.locale
    try:
        probed = sms_renders(locale, overrides=_with_text(approvals, message, [f + _MARKER for f in forms]))
        using = {(r.kind, r.variant, r.figures) for r in probed if _MARKER in r.text}
        kinds = [kind for kind in KINDS if any(found[0] == kind for found in using)]
        renders = [render for render in sms_renders(locale, kinds, overrides=_with_text(approvals, message, forms))
                   if (render.kind, render.variant, render.figures) in using]
    except TemplateRenderError as exc:
        return SmsLengthCheck(0, (f"The text messages cannot be rendered with this translation: {exc.detail}.",))
    too_long = [render for render in renders if render.problem]
    problems = [_sentence(render) for render in too_long[:SHOWN_PROBLEMS]]
    if len(too_long) > SHOWN_PROBLEMS:
        problems.append(f"{len(too_long) - SHOWN_PROBLEMS} more of the {len(renders)} text messages that use "
                        f"it would be too long as well.")
    return SmsLengthCheck(len(renders), tuple(problems))
