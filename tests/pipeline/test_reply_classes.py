"""Call-back requests and welfare concerns in every supported language (gateway.pipeline.reply_classes), and the
per-pupil code suggestion (gateway.pipeline.lexicon.suggest_per_pupil)."""

from __future__ import annotations

import pytest

from gateway.pipeline.casework import language_name
from gateway.pipeline.lexicon import suggest_per_pupil
from gateway.pipeline.reply_classes import classify_reply, lists
from gateway.resources import locales_dir

# language: (a call-back request, "he/she is in hospital", "I don't know where she is", an ordinary answer)
SAMPLES: dict[str, tuple[str, str, str, str]] = {
    "en": ("Can you call me please", "He's in hospital", "I don't know where she is", "Ola is sick today"),
    "pl": ("Proszę do mnie zadzwonić", "Jest w szpitalu", "Nie wiem, gdzie ona jest", "Ola jest chora"),
    "ur": ("براہ کرم مجھے کال کریں", "وہ ہسپتال میں ہے", "مجھے نہیں معلوم کہ وہ کہاں ہے", "وہ بیمار ہے"),
    "pa": ("ਕਿਰਪਾ ਕਰਕੇ ਮੈਨੂੰ ਫ਼ੋਨ ਕਰੋ", "ਉਹ ਹਸਪਤਾਲ ਵਿੱਚ ਹੈ", "ਮੈਨੂੰ ਨਹੀਂ ਪਤਾ ਉਹ ਕਿੱਥੇ ਹੈ", "ਉਹ ਬਿਮਾਰ ਹੈ"),
    "bn": ("দয়া করে আমাকে ফোন করুন", "সে হাসপাতালে আছে", "আমি জানি না সে কোথায়", "সে অসুস্থ"),
    "so": ("Fadlan i soo wac", "Wuxuu joogaa isbitaalka", "Ma garanayo meesha ay joogto", "Wuu xanuunsan yahay"),
    "ar": ("من فضلك اتصل بي", "هو في المستشفى", "لا أعرف أين هي", "هو مريض اليوم"),
    "gu": ("મહેરબાની કરીને મને ફોન કરો", "તે હોસ્પિટલમાં છે", "મને ખબર નથી કે તે ક્યાં છે", "તે બીમાર છે"),
    "pt": ("Por favor, ligue-me", "Ele está no hospital", "Não sei onde ela está", "Ela está doente"),
    "ro": ("Vă rog să mă sunați", "Este la spital", "Nu știu unde este", "Este bolnav"),
    "lt": ("Prašau, paskambinkite man", "Jis ligoninėje", "Nežinau, kur ji yra", "Jis serga"),
    "uk": ("Будь ласка, зателефонуйте мені", "Він у лікарні", "Я не знаю, де вона", "Він хворий"),
    "es": ("Por favor, llámeme", "Está en el hospital", "No sé dónde está", "Está enfermo"),
    "tr": ("Lütfen beni arayın", "Oğlum hastanede", "Nerede olduğunu bilmiyorum", "Kızım hasta"),
    "ta": ("தயவுசெய்து என்னை அழைக்கவும்", "அவன் மருத்துவமனையில் இருக்கிறான்", "அவள் எங்கே என்று தெரியவில்லை",
           "அவனுக்கு காய்ச்சல்"),
    "fr": ("Pouvez-vous m'appeler ?", "Il est à l'hôpital", "Je ne sais pas où elle est", "Elle est malade"),
}


def test_every_supported_language_has_reviewed_or_draft_lists() -> None:
    catalogs = {path.name for path in locales_dir().iterdir() if (path / "LC_MESSAGES").is_dir()}
    supported = {"en"} | {name.split("-")[0].split("_")[0] for name in catalogs}
    assert len(supported) == 16
    assert set(lists()) == supported == set(SAMPLES)
    for entry in lists().values():
        assert entry.review_status and entry.call_back and entry.welfare


@pytest.mark.parametrize("language", sorted(SAMPLES))
def test_call_back_request_is_recognised(language: str) -> None:
    request, *_ = SAMPLES[language]
    verdict = classify_reply(request, language)
    assert verdict.call_back and verdict.call_back_words
    assert not verdict.welfare


@pytest.mark.parametrize("language", sorted(SAMPLES))
def test_hospital_and_not_knowing_where_the_child_is_are_welfare_concerns(language: str) -> None:
    _, hospital, whereabouts, _ = SAMPLES[language]
    for text in (hospital, whereabouts):
        assert classify_reply(text, language).welfare, text
        # Welfare words are looked for in every language, whatever is on file for the adult.
        assert classify_reply(text, "en-GB").welfare, text
        assert classify_reply(text, None).welfare, text


@pytest.mark.parametrize("language", sorted(SAMPLES))
def test_an_ordinary_answer_is_neither(language: str) -> None:
    *_, answer = SAMPLES[language]
    verdict = classify_reply(answer, language)
    assert not verdict.call_back and not verdict.welfare, verdict


@pytest.mark.parametrize("text", ["Who is this?", "who's this", "Ring me back", "call me", "", "   ", "?"])
def test_english_call_back_requests_and_empty_texts(text: str) -> None:
    assert classify_reply(text, "en-GB").call_back


def test_keypad_three_is_a_call_back_and_one_is_not() -> None:
    assert classify_reply("3", "pl", source="voice").call_back
    assert not classify_reply("1", "pl", source="voice").call_back


def test_a_picture_with_no_words_is_not_a_call_back_request() -> None:
    assert not classify_reply("", "en", num_media=1).call_back


@pytest.mark.parametrize("text", ["Police came last night", "She is scared to come in", "social services are involved",
                                  "he got hurt", "Nie wiem gdzie jest Kuba", "ona się boi"])
def test_other_welfare_words(text: str) -> None:
    assert classify_reply(text, "en").welfare


def test_one_named_sibling_gets_the_code_the_others_none() -> None:
    pupils = [(1, "Shafiq"), (2, "Amira"), (3, "Yusuf")]
    codes = {p: s.code for p, s in suggest_per_pupil("Shafiq is sick, the others will come at 11", "en",
                                                     pupils).items()}
    assert codes == {1: "I", 2: None, 3: None}


def test_each_named_sibling_gets_their_own_code() -> None:
    pupils = [(1, "Shafiq"), (2, "Amira"), (3, "Yusuf")]
    codes = {p: s.code for p, s in suggest_per_pupil(
        "Shafiq has a fever. He is poorly and Amira has a dentist appointment", "en", pupils).items()}
    assert codes == {1: "I", 2: "M", 3: None}


def test_no_name_means_every_pupil_gets_the_suggestion() -> None:
    codes = {p: s.code for p, s in suggest_per_pupil("Oboje są chorzy", "pl", [(1, "Ola"), (2, "Kuba")]).items()}
    assert codes == {1: "I", 2: "I"}


def test_language_names_come_from_babel() -> None:
    assert language_name("so") == "Somali"
    assert language_name("pl") == "Polish"
    assert language_name("pa-Guru") == "Punjabi"


def test_a_name_with_too_shares_the_reason_before_it() -> None:
    codes = {p: s.code for p, s in suggest_per_pupil("Ola jest chora, Kuba też", "pl",
                                                     [(1, "Ola"), (2, "Kuba"), (3, "Zosia")]).items()}
    assert codes == {1: "I", 2: "I", 3: None}
