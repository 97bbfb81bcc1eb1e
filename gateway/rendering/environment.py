"""The Jinja2 environment and the per-message gettext that templates call.

One sandboxed, immutable environment serves every locale: templates are compiled once and cached, and the
translations are *not* installed into the environment (that would be shared state across threads). Each
render passes its own ``gettext``/``ngettext`` bound to the recipient's catalog, which also records every
string that fell back to the en-GB source.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import cache
from typing import Any

from jinja2 import FileSystemLoader, StrictUndefined, Template, pass_eval_context, select_autoescape
from jinja2.nodes import EvalContext
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markupsafe import Markup

from gateway.resources import templates_dir

from .catalogs import MessageCatalog

# Same options as config/babel.cfg gives the extractor, so extracted msgids equal the rendered ones.
I18N_EXTENSIONS = ("jinja2.ext.i18n",)


@cache
def template_environment() -> ImmutableSandboxedEnvironment:
    """The shared environment: StrictUndefined, autoescape for ``.html`` only, i18n with trimmed blocks."""
    env = ImmutableSandboxedEnvironment(
        loader=FileSystemLoader(str(templates_dir())),
        undefined=StrictUndefined,
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False, default=False),
        extensions=list(I18N_EXTENSIONS),
        auto_reload=False,
        cache_size=-1,
    )
    env.policies["ext.i18n.trimmed"] = True
    # New-style gettext: the callables below format the placeholders (and escape them in HTML). The null
    # translations installed here are never used: every render passes its own gettext/ngettext.
    env.install_null_translations(newstyle=True)  # type: ignore[attr-defined]
    # Templates use no globals (no range(), lipsum(), ...): an empty namespace keeps each render's context
    # small, and a template that forgot its per-render gettext fails loudly instead of speaking English.
    env.globals.clear()
    return env


_TEMPLATES: dict[str, Template] = {}
_TEMPLATES_LOCK = threading.Lock()


def get_template(name: str) -> Template:
    """A compiled template by path under ``templates/`` (compiled once per process)."""
    template = _TEMPLATES.get(name)
    if template is None:
        with _TEMPLATES_LOCK:
            template = _TEMPLATES.get(name) or template_environment().get_template(name)
            _TEMPLATES[name] = template
    return template


def clear_template_cache() -> None:
    """Forget compiled templates (tests, or after editing templates in a long-running process)."""
    with _TEMPLATES_LOCK:
        _TEMPLATES.clear()
    template_environment.cache_clear()


class MessageTranslator:
    """``gettext``/``ngettext`` for one message in one locale; ``missing`` lists en-GB fallbacks.

    A translation whose placeholders do not match the source (a broken catalog entry) also falls back to
    the source text, so a parent still gets a whole message; ``gateway templates check`` reports it.

    ``isolate`` (right-to-left locales) wraps every number placed into a message (the prepared text
    values arrive already isolated: see ``gateway.rendering.bidi``).
    """

    __slots__ = ("catalog", "isolate", "missing")

    def __init__(self, catalog: MessageCatalog, isolate: Callable[[Any], Any] | None = None) -> None:
        self.catalog = catalog
        self.isolate = isolate
        self.missing: list[str] = []

    def pgettext(self, context: str, message: str) -> str:
        """``message`` in ``context`` from the catalog, or the source (recorded as missing)."""
        translated = self.catalog.pgettext(context, message)
        if translated is None:
            if not self.catalog.is_source:
                self.missing.append(message)
            return message
        return translated

    def _format(self, eval_ctx: EvalContext, text: str, source: str, variables: dict[str, Any]) -> str:
        if self.isolate is not None:
            variables = {name: self.isolate(value) if isinstance(value, int) else value
                         for name, value in variables.items()}
        # Catalog text is ours (reviewed like code; a reviewer's approved text may carry no markup or link:
        # gateway/translation_checks.py); Markup makes ``%`` escape the *values* in HTML.
        template: str = Markup(text) if eval_ctx.autoescape else text  # noqa: S704
        try:
            return template % variables
        except (KeyError, ValueError, TypeError):
            self.missing.append(source)
            fallback: str = Markup(source) if eval_ctx.autoescape else source  # noqa: S704
            return fallback % variables

    @pass_eval_context
    def gettext(self, eval_ctx: EvalContext, message: str, /, **variables: Any) -> str:
        translated = self.catalog.gettext(message)
        if translated is None:
            if not self.catalog.is_source:  # en-GB is the source text, never a fallback
                self.missing.append(message)
            translated = message
        return self._format(eval_ctx, translated, message, variables)

    @pass_eval_context
    def ngettext(self, eval_ctx: EvalContext, singular: str, plural: str, count: int, /, **variables: Any) -> str:
        variables.setdefault("num", count)
        translated = self.catalog.ngettext(singular, count)
        source = singular if count == 1 else plural
        if translated is None:
            if not self.catalog.is_source:
                self.missing.append(singular)
            translated = source
        return self._format(eval_ctx, translated, source, variables)
