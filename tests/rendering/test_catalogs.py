"""Catalogs: msgfmt --check, review headers, `templates check` and what makes it fail."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

from gateway.rendering import available_locales
from gateway.rendering import checks as checks_module
from gateway.rendering.catalogs import catalog_path
from gateway.rendering.checks import check_catalog, check_pot, check_templates, extracted_message_ids
from gateway.rendering.context import SAMPLE_COUNTS

TRANSLATED = [locale for locale in available_locales() if locale != "en-GB"]


@pytest.mark.skipif(shutil.which("msgfmt") is None,
                    reason="msgfmt not installed (Debian package `gettext`); catalogs are still checked by Babel")
@pytest.mark.parametrize("locale", TRANSLATED)
def test_msgfmt_check_passes(locale: str, tmp_path: Path) -> None:
    result = subprocess.run(["msgfmt", "--check", "--statistics", "-o", str(tmp_path / "out.mo"),
                             str(catalog_path(locale, ".po"))], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "untranslated" not in result.stderr and "fuzzy" not in result.stderr, result.stderr


@pytest.mark.parametrize("locale", TRANSLATED)
def test_every_catalog_records_that_it_is_an_unreviewed_draft(locale: str) -> None:
    head = catalog_path(locale, ".po").read_text(encoding="utf-8")[:600]
    assert "X-Review-Status: draft (machine-assisted, not reviewed by a native" in head
    assert "Every string is a draft" in head and "reviewed by" not in head.replace("not reviewed by", "")


def test_templates_check_passes_on_the_shipped_templates_and_catalogs() -> None:
    report = check_templates()
    assert report.problems == []
    # Five uncounted kinds once each; the three counted kinds at every sample count (1, 2, 5, 11, 22, 101);
    # fresh start (each child's own figure) also with the siblings' figures differing, once per sample count.
    assert len(report.sms) == (5 + 3 * len(SAMPLE_COUNTS) + len(SAMPLE_COUNTS)) * len(available_locales()) * 2
    assert {row["encoding"] for row in report.sms} == {"GSM-7", "UCS-2"}
    assert {row["count"] for row in report.sms if row["kind"] == "fresh_start"} == set(SAMPLE_COUNTS)
    differing = {tuple(row["counts"]) for row in report.sms if "counts" in row}
    assert differing == {(1, 2), (2, 5), (5, 11), (11, 22), (22, 101), (101, 1)}


def test_a_stale_pot_is_reported() -> None:
    extracted = extracted_message_ids()
    problems, _ = check_pot(extracted | {"A brand new sentence."})
    assert problems and "stale" in problems[0] and "1 new" in problems[0]


def _copy_catalog(locale: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    po, mo = tmp_path / "messages.po", tmp_path / "messages.mo"
    shutil.copy(catalog_path(locale, ".po"), po)
    shutil.copy(catalog_path(locale, ".mo"), mo)
    monkeypatch.setattr(checks_module, "catalog_path", lambda loc, suffix=".mo": tmp_path / f"messages{suffix}")
    return po, mo


def test_wrong_placeholders_missing_strings_and_a_stale_mo_are_reported(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    po, _mo = _copy_catalog("pl", tmp_path, monkeypatch)
    with po.open("rb") as handle:
        catalog = read_po(handle, locale="pl")
    catalog["Dear %(recipient)s,"].string = "Dzień dobry, %(odbiorca)s,"
    catalog["Thank you."].string = ""
    with po.open("wb") as handle:
        write_po(handle, catalog)
    problems = check_catalog("pl", extracted_message_ids())
    text = "\n".join(problems)
    assert "placeholders of 'Dear %(recipient)s,'" in text
    assert "no translation for 'Thank you.'" in text
    assert "messages.mo does not match messages.po" in text


def test_a_fresh_mo_matches_its_po(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    po, mo = _copy_catalog("uk", tmp_path, monkeypatch)
    with po.open("rb") as handle:
        catalog = read_po(handle, locale="uk")
    with mo.open("wb") as handle:
        write_mo(handle, catalog)
    assert check_catalog("uk", extracted_message_ids()) == []
