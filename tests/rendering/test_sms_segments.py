"""The SMS segment counter: GSM-7 (with its extension table) and UCS-2, and look-alike normalisation."""

from __future__ import annotations

import pytest

from gateway.rendering import normalise_sms_text, sms_segments


@pytest.mark.parametrize(("length", "segments"), [(1, 1), (160, 1), (161, 2), (306, 2), (307, 3), (459, 3)])
def test_gsm7_limits_are_160_then_153(length: int, segments: int) -> None:
    info = sms_segments("a" * length)
    assert (info.encoding, info.segments, info.characters) == ("GSM-7", segments, length)


def test_extension_characters_count_two_septets() -> None:

    info = sms_segments("€" * 80)
    assert (info.encoding, info.segments, info.characters) == ("GSM-7", 1, 160)
    assert sms_segments("€" * 81).segments == 2
    assert sms_segments("[x]{y}|~^\\").characters == 10 + 8


def test_extension_character_is_never_split_across_segments() -> None:
    # 152 septets, then a two-septet character that no longer fits in the first 153-septet segment.
    text = "a" * 152 + "€" + "b" * 10
    info = sms_segments(text)
    assert info.characters == 164
    assert info.segments == 2
    assert sms_segments("a" * 152 + "€" + "b" * 152).segments == 3  # 152 | 2+151 | 1: the € moved over


def test_gsm_basic_table_includes_accented_letters_and_pound() -> None:
    assert sms_segments("£5, é è ù ì ò Ç Ø å Ä Ö Ñ Ü ß ¿¡ §").encoding == "GSM-7"


@pytest.mark.parametrize("letter", ["ą", "ș", "ç", "á", "ğ", "ė", "і"])
def test_one_character_outside_gsm_makes_the_message_ucs2(letter: str) -> None:
    info = sms_segments("Hello " + letter)
    assert info.encoding == "UCS-2"


@pytest.mark.parametrize(("length", "segments"), [(70, 1), (71, 2), (134, 2), (135, 3)])
def test_ucs2_limits_are_70_then_67(length: int, segments: int) -> None:
    info = sms_segments("ą" * length)
    assert (info.encoding, info.segments, info.characters) == ("UCS-2", segments, length)


def test_emoji_count_two_utf16_units_and_are_not_split() -> None:
    info = sms_segments("🙂" * 35)
    assert (info.encoding, info.segments, info.characters) == ("UCS-2", 1, 70)
    assert sms_segments("🙂" * 36).segments == 2
    # 66 units, then a surrogate pair that would straddle the 67-unit boundary.
    assert sms_segments("ą" * 66 + "🙂" + "ą" * 66).segments == 3


def test_curly_quotes_and_dashes_are_normalised_so_they_never_double_the_cost() -> None:
    raw = "We’ll see you – “soon”… thanks\u00a0again ‘Amira’ — Mrs O\u202fAdeyemi"
    assert sms_segments(raw).encoding == "UCS-2"
    text = normalise_sms_text(raw)
    assert text == "We'll see you - \"soon\"... thanks again 'Amira' - Mrs O Adeyemi"
    assert sms_segments(text).encoding == "GSM-7"


def test_invisible_characters_are_dropped() -> None:
    assert normalise_sms_text("a\u200bb\u00adc\ufeff") == "abc"


def test_normalisation_keeps_other_scripts_intact() -> None:
    arabic = "لم نرَ Amira في المدرسة، شكرًا"
    assert normalise_sms_text(arabic) == arabic
