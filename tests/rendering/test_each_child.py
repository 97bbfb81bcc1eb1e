"""Fresh start: one message per adult, each child named with their own days missed when the figures differ."""

from __future__ import annotations

import itertools
import re

import pytest

from gateway.rendering import CHANNELS, VARIANTS, TemplateRenderError, available_locales, render_message
from gateway.rendering.bidi import FSI, PDI
from gateway.rendering.context import differing_sample_counts, sample_context

from .conftest import AMELIA, YUSUF, single_child_context


def _siblings(days_missed: object) -> dict[str, object]:
    context = single_child_context("fresh_start", days_missed=days_missed if isinstance(days_missed, int) else 1)
    context["pupils"] = [AMELIA, YUSUF]
    context["days_missed"] = days_missed
    return context


def test_one_child_keeps_the_one_figure_sentence() -> None:
    text = render_message("fresh_start", locale="en-GB", channel="email",
                          context=single_child_context("fresh_start", days_missed=4)).text
    assert "Last half-term, Amelia-Rose Fitzgerald-Okonkwo missed 4 days of school." in text


@pytest.mark.parametrize("channel", CHANNELS)
def test_two_children_with_the_same_figure_share_the_one_figure_sentence(channel: str) -> None:
    as_list = render_message("fresh_start", locale="en-GB", channel=channel, context=_siblings([4, 4]))  # type: ignore[arg-type]
    as_int = render_message("fresh_start", locale="en-GB", channel=channel, context=_siblings(4))  # type: ignore[arg-type]
    assert as_list.text == as_int.text
    assert "Amelia-Rose and Yusuf missed 4 days of school" in as_list.text.replace(" Fitzgerald-Okonkwo", "")


@pytest.mark.parametrize(("channel", "variant"), list(itertools.product(CHANNELS, VARIANTS)))
def test_two_children_with_different_figures_each_have_their_own(channel: str, variant: str) -> None:
    message = render_message("fresh_start", locale="en-GB", channel=channel, variant=variant,  # type: ignore[arg-type]
                             context=_siblings([5, 1]))
    text = message.text.replace(" Fitzgerald-Okonkwo", "")
    assert "Amelia-Rose missed 5 days and Yusuf missed 1 day" in text
    assert "missed 5 days of school" not in text  # never the highest figure for both
    if message.html is not None:
        assert "Amelia-Rose Fitzgerald-Okonkwo missed 5 days and Yusuf Fitzgerald-Okonkwo missed 1 day" in message.html


def test_each_figure_takes_its_own_plural_form_next_to_its_name_in_polish() -> None:
    text = render_message("fresh_start", locale="pl", channel="sms", context=_siblings([1, 5])).text
    assert "Amelia-Rose - 1 dzień i Yusuf - 5 dni" in text  # SMS text turns the dash into GSM-7 "-"
    email = render_message("fresh_start", locale="pl", channel="email", context=_siblings([22, 2])).text
    assert "Amelia-Rose Fitzgerald-Okonkwo – 22 dni i Yusuf Fitzgerald-Okonkwo – 2 dni" in email


def test_arabic_isolates_each_name_and_each_figure() -> None:
    text = render_message("fresh_start", locale="ar", channel="sms", context=_siblings([11, 3])).text
    assert f"{FSI}Amelia-Rose{PDI} {FSI}11{PDI} يومًا و {FSI}Yusuf{PDI} {FSI}3{PDI} أيام" in text


def test_names_in_the_html_list_are_escaped_once() -> None:
    context = _siblings([2, 7])
    context["pupils"] = [{"forename": "Siobhán", "surname": "O'Neil & Co"}, YUSUF]
    html = render_message("fresh_start", locale="en-GB", channel="email", context=context).html or ""
    assert "Siobhán O&#39;Neil &amp; Co missed 2 days" in html and "&amp;amp;" not in html
    rtl = render_message("fresh_start", locale="ur", channel="email", context=context).html or ""
    assert "<bdi>Siobhán O&#39;Neil &amp; Co</bdi>" in rtl and "<bdi>2</bdi>" in rtl


def test_a_figure_list_that_does_not_match_the_pupils_is_a_render_error() -> None:
    with pytest.raises(TemplateRenderError, match=r"days_missed.*one figure per pupil \(2\), got 3"):
        render_message("fresh_start", locale="en-GB", channel="sms", context=_siblings([1, 2, 3]))
    with pytest.raises(TemplateRenderError, match="days_missed"):
        render_message("fresh_start", locale="en-GB", channel="sms", context=_siblings([1, -2]))


@pytest.mark.parametrize("locale", available_locales())
def test_every_locale_names_each_child_with_their_own_figure(locale: str) -> None:
    for channel, variant in itertools.product(CHANNELS, VARIANTS):
        context = sample_context("fresh_start", counts=differing_sample_counts(22))  # 22 and 101
        message = render_message("fresh_start", locale=locale, channel=channel, variant=variant,  # type: ignore[arg-type]
                                 context=context)
        assert not message.missing_translations, f"{locale} {channel} {variant}: {message.missing_translations}"
        plain = message.text.replace(FSI, "").replace(PDI, "")
        # Each figure stands between its own child's name and the next name (or the end).
        first = re.search(r"Alexandra-Victoria(.*?)Maximilian-Jonathan(.*)", plain, re.S)
        assert first is not None, f"{locale} {channel} {variant}: {plain}"
        assert "22" in first.group(1) and "101" not in first.group(1), f"{locale} {channel} {variant}: {plain}"
        assert "101" in first.group(2), f"{locale} {channel} {variant}: {plain}"
