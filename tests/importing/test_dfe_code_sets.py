"""The DfE CBDS code sets are the authority: every language, telephone type and relationship code has an answer.

Checked against the published code sets in ``../shared/reference/cbds_codesets.json`` (skipped, with the
reason, where that file is not there, e.g. in an installed wheel).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gateway.importing.ctf import _PHONE_SLOTS
from gateway.languages import (
    DEFAULT_LOCALE,
    DFE_LANGUAGES,
    DFE_NO_SINGLE_LANGUAGE,
    OLD_DFE_CODES,
    dfe_language_name,
    language_note,
    to_locale,
)
from gateway.relationships import RELATIONSHIP_LABELS, relationship_label

REFERENCE = Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "cbds_codesets.json"


@pytest.fixture(scope="module")
def code_sets() -> dict[str, Any]:
    if not REFERENCE.exists():
        pytest.skip(f"the DfE code sets are not at {REFERENCE} (kept beside the source tree, not shipped)")
    data: dict[str, Any] = json.loads(REFERENCE.read_text(encoding="utf-8"))
    return data


def _language_codes(code_sets: dict[str, Any]) -> dict[str, str]:
    """D00011: rows [main, name, main] for main codes and [main, sub, name, sub] for sub-codes; the
    published sheet ends with footnotes and the old-to-new mapping, which are not codes."""
    codes: dict[str, str] = {}
    for row in code_sets["D00011"]["codes"]:
        if len(row) == 3 and row[0] == row[2]:
            codes[row[0]] = row[1].rstrip("*")
        elif len(row) == 4 and row[1] == row[3]:
            codes[row[1]] = row[2].rstrip("*")
        elif row and str(row[0]).startswith("*"):
            break
    return codes


def test_every_cbds_language_code_maps_to_a_locale_or_an_explicit_no_catalog_fallback(
    code_sets: dict[str, Any],
) -> None:
    codes = _language_codes(code_sets)
    assert len(codes) == 322
    for code, name in codes.items():
        tag, warning = to_locale(code)
        if code in DFE_NO_SINGLE_LANGUAGE:
            assert tag == DEFAULT_LOCALE and warning and code in warning, code  # the reason is said
        else:
            assert warning is None and tag == DFE_LANGUAGES[code][0], code
        assert dfe_language_name(code) == name, code
    assert set(DFE_LANGUAGES) | set(DFE_NO_SINGLE_LANGUAGE) == set(codes)  # nothing of ours outside the set


def test_the_old_to_new_mapping_is_the_dfes(code_sets: dict[str, Any]) -> None:
    mapping = json.loads((REFERENCE.parent / "dfe_language_old_to_new_mapping.json").read_text(encoding="utf-8"))
    current = _language_codes(code_sets)
    for row in mapping[1:]:
        old, new_main = row[0], row[2]
        new = row[3] if len(row) == 7 and row[3] in current else new_main
        if old in current:
            continue  # a current code keeps its current meaning (old MAN Manx is now Manding)
        assert OLD_DFE_CODES[old] == new, old
        assert to_locale(old) == to_locale(new), old


@pytest.mark.parametrize(("code", "tag"), [
    ("HGR", "hu"), ("LTV", "lv"), ("SNH", "si"), ("TGR", "ti"), ("TGE", "tig"), ("KIR", "rn"), ("KGZ", "ky"),
    ("RMNR", "ro"), ("RMNM", "ro-MD"), ("PRSD", "fa-AF"), ("PRST", "tg"), ("KURS", "ckb"), ("KURM", "kmr"),
    ("BNGS", "bn"), ("ARAG", "ar"), ("PORB", "pt-BR"), ("SCBC", "hr"), ("MLYI", "id"),
])
def test_sub_codes_and_the_codes_we_had_wrong(code: str, tag: str) -> None:
    assert to_locale(code) == (tag, None)


@pytest.mark.parametrize("value", ["PNJM", "PNJP", "pa-Arab", "pa-PK", "PHR"])
def test_shahmukhi_readers_are_written_to_in_urdu_and_the_reason_is_recorded(value: str) -> None:
    assert to_locale(value) == ("ur", None)
    note = language_note(value)
    assert note is not None and "Shahmukhi" in note and "Urdu" in note
    assert language_note("PNJG") is None and to_locale("PNJG") == ("pa", None)  # Gurmukhi stays Panjabi


@pytest.mark.parametrize("value", ["HUN", "LAT", "TIG", "PNJX", "KYR", "QQQ"])
def test_an_unknown_code_in_capitals_is_a_warning_never_an_iso_guess(value: str) -> None:
    tag, warning = to_locale(value)
    assert tag == DEFAULT_LOCALE
    assert warning is not None and "never read as an ISO code" in warning


def test_telephone_types_cover_the_cbds_set(code_sets: dict[str, Any]) -> None:
    types = {code for code, _meaning in code_sets["D00026"]["codes"]}
    assert types == {"H", "A", "M", "W", "F", "D"}
    assert types - {"F"} <= set(_PHONE_SLOTS)  # F (fax) is dropped with a warning
    assert _PHONE_SLOTS["D"] == "minicom"


def test_every_relationship_code_has_a_label(code_sets: dict[str, Any]) -> None:
    for key in ("D00033", "D00032"):
        for code, meaning in code_sets[key]["codes"]:
            assert code in RELATIONSHIP_LABELS, code
            if key == "D00033":
                assert relationship_label(code) == meaning
    assert relationship_label("stf") == "Step Father"
    assert relationship_label("XYZ") == "Other (code XYZ)"
    assert relationship_label(None) == "Relationship not recorded"
