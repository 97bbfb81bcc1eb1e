"""SMS keywords as Twilio's Advanced Opt-Out decides them: its OptOutType verdict first, else its defaults."""

from __future__ import annotations

import pytest

from gateway.pipeline.keywords import help_text, keyword_for


@pytest.mark.parametrize(
    "body",
    ["STOP", " stop ", "Stop.", "stop!", "STOPALL", "stop all", "Unsubscribe", "cancel", "END", "quit", "revoke",
     "REVOKE", "optout", "Opt out", "opt-out", "\tEnd\n"],
)
def test_twilio_default_opt_out_words(body: str) -> None:
    assert keyword_for(body) == "STOP"


@pytest.mark.parametrize("body", ["START", " start ", "Yes", "yes.", "UNSTOP", "un stop"])
def test_twilio_default_opt_in_words(body: str) -> None:
    assert keyword_for(body) == "START"


@pytest.mark.parametrize("body", ["HELP", "help?", " Info "])
def test_twilio_default_help_words(body: str) -> None:
    assert keyword_for(body) == "HELP"


@pytest.mark.parametrize(
    "body", ["Please stop, Ola is ill", "She will not end up in school today", "stopped", "information", "",
             "Tak, jest chora"])
def test_a_sentence_containing_a_keyword_is_a_reply_not_a_keyword(body: str) -> None:
    assert keyword_for(body) is None


@pytest.mark.parametrize(
    ("body", "opt_out_type", "expected"),
    [
        ("ARRÊT", "STOP", "STOP"),  # a custom keyword configured in Twilio: Twilio's verdict is trusted
        ("Stop", "START", "START"),  # Twilio decided, whatever our list says
        ("aide", "help", "HELP"),
        ("revoke", "", "STOP"),  # no verdict: Twilio's default list applies
        ("Ola is ill", None, None),
        ("Ola is ill", "SOMETHINGNEW", None),  # an OptOutType we do not know is not trusted
    ],
)
def test_opt_out_type_is_trusted_when_present(body: str, opt_out_type: str | None, expected: str | None) -> None:
    assert keyword_for(body, opt_out_type) == expected


def test_help_names_the_school_and_how_to_reach_it() -> None:
    text = help_text({"name": "Oakfield Primary", "phone": "01632 960000", "staff_name": "Mrs Khan"})
    assert "Oakfield Primary" in text and "01632 960000" in text and "STOP" in text
