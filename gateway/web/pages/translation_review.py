"""Translation review: per language, every message with its status; per message, the English source, the draft,
an editable text with its placeholders checked, and Approve.

Reviewers are staff granted a language (the ``translator`` permission, per language: ``gateway translations
grant``, or an administrator here); administrators may review every language. Anyone else gets 403, and a
reviewer of one language gets 403 on another. An approved text is used by the renderer at once and written
back to the catalogs by ``gateway translations export``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import JSONResponse, RedirectResponse
from sqlalchemy import select
from starlette.responses import Response

from gateway.models import StaffRole, StaffUser
from gateway.rendering.review_status import ReviewState, review_status
from gateway.translation_checks import OPTIONAL_IN_PLURAL_FORMS, placeholder_runs
from gateway.translation_review import (
    CatalogMessage,
    MessageState,
    TranslationReviewError,
    approve_translation,
    can_review,
    catalog_messages,
    check_forms,
    check_sms_length,
    draft_forms,
    find_message,
    grant_translator,
    num_plurals,
    plural_form_labels,
    review_rows,
    reviewable_languages,
    revoke_translator,
    text_direction_of,
    translator_locales,
    translators,
)
from gateway.web.deps import STAFF_DEPENDENCIES, CurrentStaff, DbSession, get_or_404, require_role
from gateway.web.templating import flash, render

router = APIRouter(dependencies=STAFF_DEPENDENCIES)
AdminOnly = Annotated[StaffUser, Depends(require_role(StaffRole.ADMIN))]
SHOW_CHOICES = ("all", "to-review", "approved")
STATE_TAGS = {MessageState.APPROVED: "tag-good", MessageState.DRAFT: "tag-warn", MessageState.MISSING: "tag-alert",
              ReviewState.REVIEWED: "tag-good", ReviewState.PARTLY_REVIEWED: "tag-info",
              ReviewState.DRAFT: "tag-warn", ReviewState.SOURCE: "tag-neutral"}


def _reviewer_of(db: DbSession, staff: StaffUser, locale: str) -> None:
    """404 for a language without a catalog, 403 for a language ``staff`` may not review."""
    if locale not in reviewable_languages():
        raise HTTPException(status_code=404, detail="There is no catalog for that language.")
    if not can_review(db, staff, locale):
        raise HTTPException(status_code=403, detail="You are not a reviewer of this language. An administrator "
                                                    "can make you one on the Translation review page.")


def _message_or_404(number: int) -> CatalogMessage:
    message = find_message(number)
    if message is None:
        raise HTTPException(status_code=404, detail="No such message: the catalog may have changed.")
    return message


@router.get("/translations")
def review_index(request: Request, db: DbSession, staff: CurrentStaff) -> Response:
    """The languages this member of staff may review, with each one's status; reviewers (administrators)."""
    mine = translator_locales(db, staff)
    admin = staff.role is StaffRole.ADMIN
    if not mine:
        raise HTTPException(status_code=403, detail="Translation review is for reviewers of a language and "
                                                    "administrators.")
    context = {"languages": [review_status(locale) for locale in mine], "admin": admin, "tags": STATE_TAGS}
    if admin:
        context.update(grants=translators(db), all_languages=reviewable_languages(),
                       staff_users=list(db.scalars(select(StaffUser).where(StaffUser.active.is_(True))
                                                   .order_by(StaffUser.username))))
    return render(request, "translations_index.html", context)


@router.post("/translations/reviewers")
def grant_reviewer(request: Request, db: DbSession, staff: AdminOnly, staff_id: Annotated[int, Form()],
                   locale: Annotated[str, Form(max_length=20)]) -> Response:
    """Make a member of staff a reviewer of one language (administrators)."""
    member = get_or_404(db, StaffUser, staff_id, "staff account")
    try:
        added = grant_translator(db, member, locale, by=staff)
    except TranslationReviewError as exc:
        raise HTTPException(status_code=422, detail=" ".join(exc.problems)) from exc
    flash(request, f"{member.display_name} {'may now review' if added else 'already reviews'} {locale}.", "good")
    return RedirectResponse("/translations#reviewers", status_code=303)


@router.post("/translations/reviewers/remove")
def remove_reviewer(request: Request, db: DbSession, staff: AdminOnly, staff_id: Annotated[int, Form()],
                    locale: Annotated[str, Form(max_length=20)]) -> Response:
    """Stop a member of staff reviewing one language (administrators)."""
    member = get_or_404(db, StaffUser, staff_id, "staff account")
    removed = revoke_translator(db, member, locale, by=staff)
    flash(request, f"{member.display_name} {'no longer reviews' if removed else 'did not review'} {locale}.", "info")
    return RedirectResponse("/translations#reviewers", status_code=303)


@router.get("/translations/{locale}")
def language_page(request: Request, locale: str, db: DbSession, staff: CurrentStaff,
                  show: str = "all") -> Response:
    """Every message of one language with its status."""
    _reviewer_of(db, staff, locale)
    rows = review_rows(db, locale)
    show = show if show in SHOW_CHOICES else "all"
    shown = [row for row in rows if show == "all"
             or (show == "approved") == (row.state is MessageState.APPROVED)]
    return render(request, "translations_language.html", {
        "locale": locale, "status": review_status(locale), "rows": shown, "total": len(rows), "show": show,
        "approved": sum(row.state is MessageState.APPROVED for row in rows), "tags": STATE_TAGS,
        "direction": text_direction_of(locale)})


def _message_page(request: Request, db: DbSession, locale: str, message: CatalogMessage,
                  texts: list[str] | None = None, problems: list[str] | None = None) -> Response:
    rows = review_rows(db, locale)
    row = rows[message.number - 1]
    forms_needed = num_plurals(locale) if message.msgid_plural else 1
    current = list(texts if texts is not None else row.current) or [""] * forms_needed
    current += [""] * (forms_needed - len(current))
    labels = plural_form_labels(locale) if message.msgid_plural else ["Translation"]
    return render(request, "translation_message.html", {
        "locale": locale, "message": message, "row": row, "texts": current[:forms_needed], "labels": labels,
        "problems": problems or [], "total": len(rows), "direction": text_direction_of(locale),
        "draft": draft_forms(locale, message), "placeholder_runs": placeholder_runs, "tags": STATE_TAGS,
        "optional": sorted(OPTIONAL_IN_PLURAL_FORMS) if message.msgid_plural else []},
        status_code=422 if problems else 200)


@router.get("/translations/{locale}/{number}")
def message_page(request: Request, locale: str, number: int, db: DbSession, staff: CurrentStaff) -> Response:
    """One message: the English source, the draft, the text to approve."""
    _reviewer_of(db, staff, locale)
    return _message_page(request, db, locale, _message_or_404(number))


@router.post("/translations/{locale}/{number}/check")
def check_text(locale: str, number: int, db: DbSession, staff: CurrentStaff,
               msgid: Annotated[str, Form(max_length=2000)], text: Annotated[list[str], Form()]) -> Response:
    """The SMS length check of a text while it is typed (nothing stored; Approve checks again).

    ``sms_checked``: how many SMS renders use the message (0: none, or the placeholders are not right yet, which
    the page checks itself); ``sms_problems``: one sentence per SMS the text would make too long.
    """
    _reviewer_of(db, staff, locale)
    message = _message_or_404(number)
    if message.msgid != msgid:
        raise HTTPException(status_code=409, detail="The catalog changed since the page was opened: open the "
                                                    "message again.")
    if check_forms(locale, message, text):
        return JSONResponse({"placeholders_ok": False, "sms_checked": 0, "sms_problems": []})
    found = check_sms_length(db, locale, message, text)
    return JSONResponse({"placeholders_ok": True, "sms_checked": found.checked,
                         "sms_problems": list(found.problems)})


@router.post("/translations/{locale}/{number}")
def approve(request: Request, locale: str, number: int, db: DbSession, staff: CurrentStaff,
            msgid: Annotated[str, Form(max_length=2000)], text: Annotated[list[str], Form()]) -> Response:
    """Approve the text of one message (refused, with the reasons, when a placeholder or plural form is wrong or
    an SMS that uses it would be too long)."""
    _reviewer_of(db, staff, locale)
    message = _message_or_404(number)
    if message.msgid != msgid:
        raise HTTPException(status_code=409, detail="The catalog changed since the page was opened: open the "
                                                    "message again.")
    try:
        approve_translation(db, staff, locale, message, text)
    except TranslationReviewError as exc:
        return _message_page(request, db, locale, message, texts=text, problems=exc.problems)
    flash(request, f"Message {number} approved.", "good")
    following = next((m.number for m in catalog_messages()[number:]), None)
    return RedirectResponse(f"/translations/{locale}/{following}" if following else f"/translations/{locale}",
                            status_code=303)
