"""Each child's own figure in one message about siblings: "Ola missed 3 days and Kuba missed 5 days".

A fresh-start nudge goes once to each adult and names all their children. When the children missed different
numbers of days, the message names each child with their own figure: one plural phrase per child (its own
plural form, so Polish "3 dni" sits beside "5 dni", Arabic "يومان" beside "3 أيام"), joined with the locale's
list pattern like the names themselves. With one child, or the same figure for all, the templates keep their
one-figure sentence (``figures_differ`` is false and ``count`` is that figure).

The phrase is translated like any template string (it falls back to the en-GB source, and is reported, when
a catalog lacks it); right-to-left locales get each name and number isolated (``bidi.py``).
"""

from __future__ import annotations

from collections.abc import Sequence

from jinja2.nodes import EvalContext
from markupsafe import Markup

from .bidi import Isolate, isolate_html
from .environment import MessageTranslator, template_environment


def ngettext(singular: str, plural: str) -> tuple[str, str]:
    """Marks a plural message for ``pybabel extract``; returns it unchanged."""
    return singular, plural


# One child's part of the list: the child's name (a first name in texts and calls, the full name in e-mail)
# and the days that child missed last half-term. A sentence per channel places the joined list.
CHILD_MISSED_DAYS = ngettext("%(child)s missed %(count)s day", "%(child)s missed %(count)s days")


def figures_differ(figures: Sequence[int]) -> bool:
    """Whether the message must name each child with their own figure."""
    return len(set(figures)) > 1


def each_child_missed(names: Sequence[str], figures: Sequence[int], translator: MessageTranslator,
                      isolate: Isolate | None) -> tuple[str, ...]:
    """One translated phrase per child, in order. ``names`` arrive already isolated in right-to-left
    locales; the numbers are isolated here. In HTML (``isolate_html``) the phrases are escaped Markup."""
    eval_ctx = EvalContext(template_environment())
    eval_ctx.autoescape = isolate is isolate_html
    phrases = []
    for name, figure in zip(names, figures, strict=True):
        number = isolate(figure) if isolate is not None else figure
        phrase = translator.ngettext(eval_ctx, *CHILD_MISSED_DAYS, figure, child=name, count=number)
        phrases.append(Markup(phrase) if eval_ctx.autoescape else str(phrase))  # noqa: S704 - escaped above
    return tuple(phrases)
