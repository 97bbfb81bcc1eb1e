"""Every catalog's Plural-Forms follows CLDR (Babel's locale data), compared by evaluating both for n = 0..200."""

from __future__ import annotations

import gettext

import pytest
from babel.messages.pofile import read_po

from gateway.rendering import available_locales
from gateway.rendering.catalogs import catalog_path
from gateway.rendering.checks import CLDR_CATEGORY_ORDER, plural_forms_problem
from gateway.rendering.locales import babel_locale

TRANSLATED = [locale for locale in available_locales() if locale != "en-GB"]
# Babel's old Arabic formula (python-babel/babel#816): "many" (11..99) and "other" (100..102) swapped.
BABEL_OLD_ARABIC = ("(n==0 ? 0 : n==1 ? 1 : n==2 ? 2 : n%100>=3 && n%100<=10 ? 3 : "
                    "n%100>=0 && n%100<=2 ? 4 : 5)")


@pytest.mark.parametrize("locale", TRANSLATED)
def test_plural_forms_follow_cldr_for_every_n_up_to_200(locale: str) -> None:
    with catalog_path(locale, ".po").open("rb") as handle:
        catalog = read_po(handle, locale=locale)
    rule = gettext.c2py(catalog.plural_expr)
    cldr = babel_locale(locale).plural_form
    categories = sorted({cldr(n) for n in range(201)}, key=CLDR_CATEGORY_ORDER.index)
    assert catalog.num_plurals == len(categories), (locale, categories)
    for n in range(201):
        assert rule(n) == categories.index(cldr(n)), f"{locale}: n={n} is form {rule(n)}, CLDR says {cldr(n)}"
    assert plural_forms_problem(locale, catalog.num_plurals, catalog.plural_expr) is None


def test_babels_old_arabic_formula_is_reported() -> None:
    problem = plural_forms_problem("ar", 6, BABEL_OLD_ARABIC)
    assert problem is not None and "'many': [5]" in problem and "'other': [4]" in problem


def test_a_rule_that_puts_zero_with_the_plural_is_reported_where_cldr_says_one() -> None:
    # Bengali: CLDR "one" is i = 0 or n = 1, so 0 takes the singular form.
    assert plural_forms_problem("bn", 2, "(n != 1)") is not None
    assert plural_forms_problem("bn", 2, "(n > 1)") is None
