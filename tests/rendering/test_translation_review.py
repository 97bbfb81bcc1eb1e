"""Translation review without a database: approved texts laid over the catalogs, the English copy in e-mails of
languages not yet reviewed, each language's review status, the placeholder checks, and the export to ``.po``.

Approvals come from a loader given to ``gateway.rendering.approved_texts`` here; the database side (storing,
permissions, the web pages) is in ``tests/web/test_translation_review.py``.
"""

from __future__ import annotations

import hashlib
import re
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from gateway.rendering import render_message, sample_context
from gateway.rendering.approved_texts import ApprovedText, LocaleApprovals, use_approval_loader
from gateway.rendering.catalogs import catalog_from_babel, clear_catalog_cache
from gateway.rendering.renderer import split_english_copy
from gateway.rendering.review_status import ReviewState, clear_review_cache, review_status, review_value_of_file
from gateway.resources import locales_dir
from gateway.translation_checks import translation_problems
from gateway.translation_export import export_locale
from gateway.translation_review import CatalogMessage, catalog_messages, draft_forms, num_plurals

WHEN = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def no_database_approvals() -> Iterator[None]:
    """Each test gives its own approvals; afterwards the renderer reads the configured database again."""
    use_approval_loader(lambda: {})
    yield
    use_approval_loader(None)
    clear_catalog_cache()
    clear_review_cache()


def _approvals(locale: str, texts: dict[CatalogMessage, tuple[str, ...]],
               who: str = "Anna Kowalska") -> LocaleApprovals:
    return LocaleApprovals(locale, {m.key.key: ApprovedText(m.msgctxt, m.msgid, forms, who, WHEN)
                                    for m, forms in texts.items()})


def _used_in(usage: str, plural: bool) -> CatalogMessage:
    return next(m for m in catalog_messages() if usage in m.usages and (m.msgid_plural is not None) == plural)


def _everything_approved(locale: str) -> LocaleApprovals:
    return _approvals(locale, {m: draft_forms(locale, m) for m in catalog_messages()})


def test_an_approved_text_replaces_the_catalog_translation_when_rendering() -> None:
    sms = _used_in("absence first day · SMS · standard", plural=True)
    forms = tuple(f"Zatwierdzone {n}: %(school)s, %(children)s, %(phone)s, %(staff)s" for n in range(3))
    greeting = next(m for m in catalog_messages() if m.msgid == "Dear %(recipient)s,")
    approvals = _approvals("pl", {sms: forms, greeting: ("Szanowni Państwo, %(recipient)s,",)})
    use_approval_loader(lambda: {"pl": approvals})
    context = sample_context("absence_first_day")
    text = render_message("absence_first_day", locale="pl", channel="sms", context=context).text
    assert text.startswith("Zatwierdzone ") and "Alexandra-Victoria" in text  # two children: a plural form
    email = render_message("absence_first_day", locale="pl", channel="email", context=context)
    assert split_english_copy(email.text)[0].startswith("Szanowni Państwo, Małgorzata-Żaneta")
    use_approval_loader(lambda: {})  # the approval gone (a fresh load): the catalog's draft again
    assert not render_message("absence_first_day", locale="pl", channel="sms", context=context).text.startswith(
        "Zatwierdzone")


def test_emails_carry_the_english_text_until_the_language_is_reviewed() -> None:
    context = sample_context("absence_first_day")
    draft = render_message("absence_first_day", locale="pl", channel="email", context=context)
    translated, english = split_english_copy(draft.text)
    assert english is not None and english.startswith("Dear Małgorzata-Żaneta") and "Dear" not in translated
    assert draft.html is not None and '<div lang="en" dir="ltr"' in draft.html and ">English:</h2>" in draft.html
    assert render_message("absence_first_day", locale="pl", channel="sms", context=context).text.count("Dear") == 0
    use_approval_loader(lambda: {"pl": _everything_approved("pl")})
    assert review_status("pl").state is ReviewState.REVIEWED
    reviewed = render_message("absence_first_day", locale="pl", channel="email", context=context)
    assert split_english_copy(reviewed.text)[1] is None and reviewed.html and 'lang="en"' not in reviewed.html
    # Another language is still a draft.
    french = render_message("absence_first_day", locale="fr", channel="email", context=context)
    assert split_english_copy(french.text)[1] is not None
    assert split_english_copy(render_message("absence_first_day", locale="en-GB", channel="email",
                                             context=context).text)[1] is None


def test_review_status_from_the_header_and_the_approvals() -> None:
    status = review_status("pl")
    assert status.state is ReviewState.DRAFT and status.summary.startswith("draft")
    one = next(m for m in catalog_messages() if m.msgid_plural is None)
    partly = review_status("pl", approvals=_approvals("pl", {one: draft_forms("pl", one)}))
    assert partly.state is ReviewState.PARTLY_REVIEWED and partly.approved == 1
    assert partly.reviewers == ("Anna Kowalska",) and partly.reviewed_on == WHEN.date()
    assert partly.summary == (f"partly reviewed: 1 of {partly.total} messages approved, by Anna Kowalska, "
                              f"last on 2026-12-01")
    # A plural message counts only with every form of the language.
    plural = _used_in("absence first day · SMS · standard", plural=True)
    incomplete = _approvals("pl", {plural: draft_forms("pl", plural)[:1]})
    assert review_status("pl", approvals=incomplete).approved == 0
    assert review_status("pl", approvals=_everything_approved("pl")).state is ReviewState.REVIEWED
    assert review_status("en-GB").state is ReviewState.SOURCE


@pytest.mark.parametrize(("forms", "expected"), [
    (["Dzień dobry,"], "The translation leaves out %(recipient)s: keep every placeholder of the English text "
                       "(%(recipient)s)."),
    (["Dzień dobry %(odbiorca)s,"], "The translation has %(odbiorca)s, which the English text does not: use only "
                                    "%(recipient)s."),
    (["Dzień dobry {recipient},"], "{recipient}, which the English text does not"),
    (["Dzień dobry %(recipient)s, 100%"], "has a % that is not a placeholder: write %% for a per cent sign"),
    (["   "], "The translation is empty."),
    # What a reviewer's account could slip into parents' e-mails: markup, a link, an address.
    (['Dzień dobry %(recipient)s, <a href="https://evil.example">zaloguj</a>'], "has < or >"),
    (["Dzień dobry %(recipient)s, zob. https://evil.example"], "has a web link or e-mail address"),
    (["Dzień dobry %(recipient)s, www.evil.example"], "has a web link or e-mail address"),
    (["Dzień dobry %(recipient)s, pisz: x@evil.example"], "has a web link or e-mail address"),
])
def test_placeholder_check_names_each_problem(forms: list[str], expected: str) -> None:
    problems = translation_problems("pl", msgctxt="", msgid="Dear %(recipient)s,", msgid_plural=None, forms=forms,
                                    num_plurals=3)
    assert any(expected in problem for problem in problems), problems


def test_plural_forms_must_all_be_there_and_may_spell_out_the_number() -> None:
    def check(forms: list[str]) -> list[str]:
        return translation_problems("pl", msgctxt="", msgid="%(num)s day", msgid_plural="%(num)s days",
                                    forms=forms, num_plurals=3, form_labels=["form 1 (one: 1)", "form 2 (few: 2)",
                                                                             "form 3 (many: 0)"])
    assert check(["jeden dzień", "%(num)s dni", "%(num)s dni"]) == []
    assert check(["%(num)s dzień", "%(num)s dni"]) == [
        "The language has 3 plural forms; 2 were given: fill in every form."]
    assert check(["%(num)s dzień", "", "%(num)s dni"]) == ["Plural form 2 (few: 2) is empty."]
    assert check(["%(num)s dzień", "%(liczba)s dni", "%(num)s dni"])[0].startswith(
        "Plural form 2 (few: 2) has %(liczba)s")
    assert translation_problems("pl", msgctxt="", msgid="Dear %(recipient)s,", msgid_plural=None,
                                forms=["Szanowni Państwo, %(recipient)s,"], num_plurals=3) == []


def test_a_date_pattern_must_still_be_usable() -> None:
    from gateway.rendering.dates import START_DAY_SMS

    context, msgid = START_DAY_SMS
    problems = translation_problems("lt", msgctxt=context, msgid=msgid, msgid_plural=None, forms=["MM-dd"],
                                    num_plurals=3)
    assert problems and problems[0].startswith("The date pattern cannot be used")


def _digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()


def test_export_writes_approvals_into_a_copy_of_the_catalogs_and_compiles_the_mo(tmp_path: Path) -> None:
    before = _digest(locales_dir())
    root = tmp_path / "locales"
    shutil.copytree(locales_dir(), root)
    plural = _used_in("absence first day · SMS · standard", plural=True)
    forms = tuple(f"Forma {n}: %(school)s %(children)s %(phone)s %(staff)s" for n in range(num_plurals("pl")))
    greeting = next(m for m in catalog_messages() if m.msgid == "Dear %(recipient)s,")
    result = export_locale("pl", _approvals("pl", {plural: forms, greeting: ("Szanowni Państwo %(recipient)s,",)}),
                           root=root)
    assert result.written == 2 and result.not_in_catalog == []
    po = root / "pl" / "LC_MESSAGES" / "messages.po"
    with po.open("rb") as handle:
        catalog = read_po(handle, locale="pl")
    assert catalog.get(greeting.msgid).string == "Szanowni Państwo %(recipient)s,"
    assert tuple(catalog.get(plural.msgid).string) == forms
    total = len(catalog_messages())
    assert review_value_of_file(po) == f"partly reviewed (2 of {total} messages) by Anna Kowalska on 2026-12-01"
    assert po.read_text(encoding="utf-8").startswith("# Polish translations")
    assert "Polish translations for parent-gateway" in catalog.header_comment  # the title line is kept
    assert catalog.num_plurals == 3
    with (po.with_suffix(".mo")).open("rb") as handle:
        compiled = catalog_from_babel("pl", read_mo(handle))
    expected = catalog_from_babel("pl", catalog)
    assert (compiled.singular, compiled.plural) == (expected.singular, expected.plural)
    status = review_status("pl", root=root, approvals=None)  # from the header alone
    assert status.state is ReviewState.PARTLY_REVIEWED and status.reviewers == ("Anna Kowalska",)
    # Every message approved: the catalog says "reviewed"; a second export changes no text.
    everything = _everything_approved("pl")
    export_locale("pl", everything, root=root)
    again = export_locale("pl", everything, root=root)
    assert again.written == 0 and again.status == "reviewed by Anna Kowalska on 2026-12-01"
    assert review_status("pl", root=root, approvals=None).state is ReviewState.REVIEWED
    assert _digest(locales_dir()) == before  # the real catalogs are never written by a test


def test_sms_length_check_renders_each_sms_using_the_message_and_names_the_one_too_long() -> None:
    from gateway.translation_sms_length import sms_length_check

    nothing_approved = LocaleApprovals("pl")
    first_day = _used_in("absence first day · SMS · standard", plural=True)
    draft = draft_forms("pl", first_day)
    fine = sms_length_check(nothing_approved, first_day, draft)
    assert (fine.checked, fine.problems) == (1, ())  # one SMS (standard variant, two children) uses it
    padded = [form + " Prosimy o odpowiedź jeszcze dziś, nawet krótką, bo bardzo się martwimy." * 2
              for form in draft]
    too_long = sms_length_check(nothing_approved, first_day, padded)
    assert len(too_long.problems) == 1
    assert re.fullmatch(r"Too long for a text message: the absence first day SMS \(standard variant, two children\) "
                        r"would be \d{3} UCS-2 units \(\d segments\), over the limit of 195\. Shorten the "
                        r"translation\.", too_long.problems[0]), too_long.problems
    # A counted kind: every sample count is rendered, and the sentence names the count.
    continuing = _used_in("absence continuing · SMS · plain", plural=True)
    long_continuing = sms_length_check(nothing_approved, continuing,
                                       [form + " Bardzo prosimy o pilny kontakt ze szkołą." * 4
                                        for form in draft_forms("pl", continuing)])
    assert long_continuing.checked == 6
    assert "absence continuing SMS (plain variant, two children, count 1)" in long_continuing.problems[0]
    assert long_continuing.problems[-1] == "3 more of the 6 text messages that use it would be too long as well."
    # The SMS date pattern is found inside every fresh start SMS that names the start day; e-mail text in none.
    from gateway.rendering.dates import START_DAY_SMS

    start_day = next(m for m in catalog_messages() if (m.msgctxt, m.msgid) == START_DAY_SMS)
    assert sms_length_check(nothing_approved, start_day, draft_forms("pl", start_day)).checked > 0
    greeting = next(m for m in catalog_messages() if m.msgid == "Dear %(recipient)s,")
    assert sms_length_check(nothing_approved, greeting, ["Szanowni Państwo, %(recipient)s,"]).checked == 0
    # Nothing was stored: the renderer uses the catalog's draft again.
    text = render_message("absence_first_day", locale="pl", channel="sms",
                          context=sample_context("absence_first_day")).text
    assert "martwimy" not in text


def test_proposed_texts_are_seen_only_by_renders_in_the_same_thread() -> None:
    from concurrent.futures import ThreadPoolExecutor

    from gateway.rendering.approved_texts import proposed_approvals

    first_day = _used_in("absence first day · SMS · standard", plural=True)
    proposed = _approvals("pl", {first_day: tuple(f"Próba {n}: %(school)s, %(children)s" for n in range(3))})
    context = sample_context("absence_first_day")

    def sms() -> str:
        return render_message("absence_first_day", locale="pl", channel="sms", context=context).text

    with proposed_approvals(proposed), ThreadPoolExecutor(max_workers=1) as other_thread:
        assert sms().startswith("Próba ")
        assert not other_thread.submit(sms).result().startswith("Próba ")
    assert not sms().startswith("Próba ")
