"""The English plain variants read easily: Flesch reading ease of at least 70 (textstat).

textstat looks English syllables up in NLTK's CMU dictionary, which it downloads at run time; tests must not
reach the network, so syllables come from Pyphen (textstat's own fallback for words the dictionary lacks).
Pyphen counts hyphenation points, so its scores run a little high: the standard wording is also scored, as a
sanity check that the plain variant stays the easier of the two.
"""

from __future__ import annotations

import pytest

from gateway.rendering import CHANNELS, KINDS, render_message
from gateway.rendering.context import sample_context

textstat = pytest.importorskip("textstat")


@pytest.fixture(autouse=True)
def _offline_syllables(monkeypatch: pytest.MonkeyPatch) -> None:
    from textstat.backend.counts import _count_syllables

    monkeypatch.setattr(_count_syllables, "get_cmudict", lambda lang: None)


def _plain_and_standard(kind: str, channel: str) -> tuple[float, float]:
    context = sample_context(kind, siblings=False)
    scores = []
    for variant in ("plain", "standard"):
        message = render_message(kind, locale="en-GB", channel=channel, variant=variant, context=context)  # type: ignore[arg-type]
        scores.append(float(textstat.flesch_reading_ease(message.text)))
    return scores[0], scores[1]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("channel", CHANNELS)
def test_english_plain_variant_scores_at_least_70(kind: str, channel: str) -> None:
    plain, _standard = _plain_and_standard(kind, channel)
    assert plain >= 70, f"{kind} {channel}: Flesch reading ease {plain:.1f}"


@pytest.mark.parametrize("kind", KINDS)
def test_plain_email_is_no_harder_than_standard(kind: str) -> None:
    plain, standard = _plain_and_standard(kind, "email")
    assert plain >= standard - 5, f"{kind}: plain {plain:.1f} vs standard {standard:.1f}"
