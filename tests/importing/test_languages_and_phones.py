"""DfE language codes to BCP 47, and phone / e-mail normalisation."""

from __future__ import annotations

import pytest

from gateway.languages import DFE_LANGUAGES, to_locale
from gateway.phones import InvalidEmailError, InvalidPhoneError, PhoneKind, normalise_email, normalise_phone


@pytest.mark.parametrize(("code", "tag"), [
    ("ENG", "en-GB"), ("POL", "pl"), ("URD", "ur"), ("PNJ", "pa"), ("PNJM", "ur"), ("PNJP", "ur"), ("BNG", "bn"),
    ("BNGS", "bn"), ("SOM", "so"), ("ARA", "ar"), ("ARAA", "ar"), ("GUJ", "gu"), ("POR", "pt"), ("PORB", "pt-BR"),
    ("TAM", "ta"), ("FRN", "fr"), ("RMN", "ro"), ("TUR", "tr"), ("LIT", "lt"), ("SPA", "es"), ("UKR", "uk"),
    ("PRS", "fa"), ("CHIC", "zh"), ("pol", "pl"),
])
def test_dfe_codes_map_to_bcp47(code: str, tag: str) -> None:
    assert to_locale(code) == (tag, None)


@pytest.mark.parametrize(
    ("value", "tag"), [("pl", "pl"), ("pt-br", "pt-BR"), ("en_GB", "en-GB"), ("zh-Hant", "zh-Hant")]
)
def test_bcp47_tags_are_accepted_and_canonicalised(value: str, tag: str) -> None:
    assert to_locale(value) == (tag, None)


@pytest.mark.parametrize("value", ["XYZ", "xx", "zz-ZZ", "123", "NOT", "REF", "<script>", "p" * 40])
def test_unknown_or_non_language_codes_fall_back_to_english_with_a_warning(value: str) -> None:
    tag, warning = to_locale(value)
    assert tag == "en-GB"
    assert warning and "en-GB" in warning


def test_every_table_tag_reads_back_as_itself() -> None:
    # A tag stored on an adult (the web form sends it back) must never turn into another language.
    for code, (tag, _name) in DFE_LANGUAGES.items():
        assert to_locale(tag) == (tag, None), code


@pytest.mark.parametrize(("text", "e164", "kind"), [
    ("07700 900123", "+447700900123", PhoneKind.MOBILE),
    ("+44 7700 900123", "+447700900123", PhoneKind.MOBILE),
    ("0044 7700 900123", "+447700900123", PhoneKind.MOBILE),
    ("07700-900-123", "+447700900123", PhoneKind.MOBILE),
    ("07700.900.123", "+447700900123", PhoneKind.MOBILE),
    ("+44 (0) 7700 900123", "+447700900123", PhoneKind.MOBILE),
    ("(01632) 960 001", "+441632960001", PhoneKind.LANDLINE),
    ("0113 496 0123", "+441134960123", PhoneKind.LANDLINE),
    ("020 7946 0999", "+442079460999", PhoneKind.LANDLINE),
    ("0800 123 4567", "+448001234567", PhoneKind.OTHER),
])
def test_phone_numbers_as_schools_type_them(text: str, e164: str, kind: PhoneKind) -> None:
    phone = normalise_phone(text)
    assert (phone.e164, phone.kind, phone.sms_capable) == (e164, kind, kind is PhoneKind.MOBILE)


@pytest.mark.parametrize(("text", "reason"), [
    ("", "empty"), ("07700 9OO123", "not digits"), ("12345", "not a valid"), ("077009001234", "too long"),
    ("call mum", "not digits"),
])
def test_invalid_phone_numbers_say_why(text: str, reason: str) -> None:
    with pytest.raises(InvalidPhoneError, match=reason) as caught:
        normalise_phone(text)
    assert isinstance(caught.value, ValueError)


def test_email_syntax_only() -> None:
    assert normalise_email(" Anna.Nowak@Example.COM ") == "Anna.Nowak@example.com"
    with pytest.raises(InvalidEmailError):
        normalise_email("anna@@example.com")
    with pytest.raises(ValueError):
        normalise_email("anna.example.com")
