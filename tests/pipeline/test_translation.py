"""Glosses and machine translation of parents' replies, against a local LibreTranslate-compatible fake."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy.orm import Session

from gateway.models import InboundMessage, StaffRole
from gateway.pipeline.lexicon import LEXICON, MEANINGS, gloss
from gateway.pipeline.replies import record_inbound
from gateway.translation import LibreTranslateClient, TranslationError, get_translator
from tests.web import conftest as web
from tests.web.conftest import SeededFamily, sign_in

# The web tests' fixtures, for the Inbox page: the app, a signed-in client's accounts, the Nowak family.
web_app, client, staff_accounts, family = web.web_app, web.client, web.staff_accounts, web.family
quick_password_hashing = web.quick_password_hashing

TRANSLATED = "Amira is sick, she has a fever."


@dataclass
class FakeLibreTranslate:
    """POST /translate as LibreTranslate answers it; ``failing`` answers 500 instead. Records every request."""

    url: str = ""
    failing: bool = False
    requests: list[dict[str, Any]] = field(default_factory=list)


@pytest.fixture
def libretranslate() -> Iterator[FakeLibreTranslate]:
    fake = FakeLibreTranslate()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}")
            fake.requests.append({"path": self.path, **body})
            if fake.failing:
                self.send_response(500)
                self.end_headers()
                self.wfile.write(b'{"error": "model not loaded"}')
                return
            answer = {"translatedText": TRANSLATED if body.get("q", "").startswith("Amira") else body.get("q", "")}
            if body.get("source") == "auto":
                answer["detectedLanguage"] = {"confidence": 90.0, "language": "pl"}
            payload = json.dumps(answer).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()


# -- the gloss ---------------------------------------------------------------------------------------------

def test_the_gloss_gives_the_lexicon_words_their_english_meaning() -> None:
    assert ", ".join(map(str, gloss("Amira jest chora, ma gorączkę.", "pl"))) == "chora = ill, gorączkę = fever"
    assert [str(w) for w in gloss("Ma wizytę u lekarza, źle się czuje", "pl")] == [
        "wizytę = appointment", "lekarza = doctor", "źle się czuje = feels unwell"]
    # A Polish reply from an adult the MIS records as English is still glossed; an English one is not.
    assert [str(w) for w in gloss("Ola jest chora", "en-GB")] == ["chora = ill"]
    assert gloss("She is ill with a temperature", "en-GB") == ()
    assert [str(w) for w in gloss("Wiil bukaa, qandho ayuu qabaa", "so")] == ["bukaa = ill", "qandho = fever"]
    assert gloss("hasta mañana", "es") == ()  # Spanish "until", never Turkish "ill" for a Spanish speaker


def test_every_lexicon_word_has_a_meaning() -> None:
    for language, codes in LEXICON.items():
        if language == "en":
            continue
        missing = [entry for entries in codes.values() for entry in entries if entry not in MEANINGS[language]]
        assert missing == [], language


# -- the provider ------------------------------------------------------------------------------------------

def test_the_client_sends_the_libretranslate_request(libretranslate: FakeLibreTranslate) -> None:
    client_ = LibreTranslateClient(libretranslate.url + "/", api_key="k1")
    result = client_.translate("Amira jest chora", source="pl")
    assert (result.text, result.source) == (TRANSLATED, "pl")
    assert libretranslate.requests == [{"path": "/translate", "q": "Amira jest chora", "source": "pl",
                                        "target": "en", "format": "text", "api_key": "k1"}]
    assert LibreTranslateClient(libretranslate.url).translate("Amira ma gorączkę").source == "pl"  # detected


def test_a_failing_or_absent_service_is_a_translation_error_without_the_text(
        libretranslate: FakeLibreTranslate) -> None:
    libretranslate.failing = True
    with pytest.raises(TranslationError, match="answered 500") as failed:
        LibreTranslateClient(libretranslate.url).translate("Amira jest chora", source="pl")
    assert "Amira" not in str(failed.value)
    with pytest.raises(TranslationError, match="unreachable"):
        LibreTranslateClient("http://127.0.0.1:9", timeout=2).translate("Amira jest chora", source="pl")


def test_no_translator_unless_the_url_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    from gateway.config import load_settings

    monkeypatch.delenv("GATEWAY_TRANSLATE_URL", raising=False)
    assert get_translator(load_settings()) is None
    monkeypatch.setenv("GATEWAY_TRANSLATE_URL", "http://127.0.0.1:5000")
    translator = get_translator(load_settings())
    assert isinstance(translator, LibreTranslateClient) and translator.endpoint == "http://127.0.0.1:5000/translate"


# -- in the Inbox ------------------------------------------------------------------------------------------

def _reply(session: Session, sid: str, sender: str, body: str) -> InboundMessage:
    """A text recorded as the webhook records it, then the worker's actor (process, then translate)."""
    from gateway.pipeline.actors import process_inbound

    inbound_id, _ = record_inbound(session, provider_sid=sid, from_number=sender, to_number=None, body=body)
    session.commit()
    process_inbound.fn(inbound_id)
    session.expire_all()
    row = session.get(InboundMessage, inbound_id)
    assert row is not None and row.processed_at is not None
    return row


def _card(page: str, text: str) -> str:
    """The Inbox card showing ``text``."""
    return next(card for card in page.split('<li class="card reply-card">') if text in card)


def test_the_inbox_shows_the_gloss_and_a_translation_only_when_configured(
        session: Session, client: Any, staff_accounts: dict[StaffRole, str], family: SeededFamily,
        libretranslate: FakeLibreTranslate, monkeypatch: pytest.MonkeyPatch) -> None:
    from gateway.config import get_settings

    sign_in(client, staff_accounts[StaffRole.OFFICE])
    # Not configured: the parent's text goes nowhere; staff read the gloss.
    monkeypatch.delenv("GATEWAY_TRANSLATE_URL", raising=False)
    get_settings.cache_clear()
    quiet = _reply(session, "SM-t1", family.mother_number, "Amira jest chora, ma gorączkę.")
    assert quiet.suggested_code == "I" and quiet.translation is None
    assert libretranslate.requests == []
    card = _card(client.get("/inbox").text, "Amira jest chora, ma")
    assert "Words we know:</span> chora = ill, gorączkę = fever" in card and "machine translation" not in card

    # Configured: the Inbox shows the translation beside the gloss.
    monkeypatch.setenv("GATEWAY_TRANSLATE_URL", libretranslate.url)
    get_settings.cache_clear()
    try:
        translated = _reply(session, "SM-t2", family.mother_number, "Amira ma gorączkę, zostaje w domu.")
        assert translated.translation == TRANSLATED
        assert [(r["q"], r["source"], r["target"]) for r in libretranslate.requests] == [
            ("Amira ma gorączkę, zostaje w domu.", "pl", "en")]
        card = _card(client.get("/inbox").text, "zostaje w domu")
        assert f"In English (machine translation):</span> <span lang=\"en\">“{TRANSLATED}”" in card
        assert "gorączkę = fever" in card
        # An English reply is never sent to the service.
        _reply(session, "SM-t3", family.mother_number, "She is poorly today")
        assert len(libretranslate.requests) == 1

        # The service fails: the reply is processed all the same and staff read the gloss.
        libretranslate.failing = True
        failed = _reply(session, "SM-t4", family.mother_number, "Amira jest chora od wczoraj")
        assert failed.suggested_code == "I" and failed.translation is None and len(libretranslate.requests) == 2
        card = _card(client.get("/inbox").text, "od wczoraj")
        assert "chora = ill" in card and "machine translation" not in card
    finally:
        get_settings.cache_clear()
