"""``gateway translations …``: who may review which language, each language's review status, and the export of
approved texts into the ``.po`` catalogs."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from gateway.cli.common import emit_json

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from gateway.models import StaffUser

translations_group = click.Group("translations", help="Translation review by people: reviewers, status, export.")


def _staff(session: Session, username: str) -> StaffUser:
    from sqlalchemy import select

    from gateway.errors import NotFoundError
    from gateway.models import StaffUser

    staff = session.scalar(select(StaffUser).where(StaffUser.username == username.strip().lower()))
    if staff is None:
        raise NotFoundError(f"no staff account named {username!r}")
    return staff


@translations_group.command("grant")
@click.argument("username")
@click.argument("locales", nargs=-1, required=True)
def grant_command(username: str, locales: tuple[str, ...]) -> None:
    """Let a member of staff review the translations of LOCALES (e.g. ``pl ar``): the translator permission."""
    from gateway.db import session_scope
    from gateway.errors import InputError, Problem
    from gateway.translation_review import TranslationReviewError, grant_translator

    with session_scope() as session:
        staff = _staff(session, username)
        for locale in locales:
            try:
                added = grant_translator(session, staff, locale, by=None, via="cli")
            except TranslationReviewError as exc:
                raise InputError([Problem("translations grant", "LOCALE", None, p) for p in exc.problems]) from exc
            click.echo(f"{staff.username} {'may now review' if added else 'could already review'} {locale}")


@translations_group.command("revoke")
@click.argument("username")
@click.argument("locales", nargs=-1, required=True)
def revoke_command(username: str, locales: tuple[str, ...]) -> None:
    """Stop a member of staff reviewing the translations of LOCALES."""
    from gateway.db import session_scope
    from gateway.translation_review import revoke_translator

    with session_scope() as session:
        staff = _staff(session, username)
        for locale in locales:
            removed = revoke_translator(session, staff, locale, by=None, via="cli")
            click.echo(f"{staff.username} {'no longer reviews' if removed else 'did not review'} {locale}")


@translations_group.command("status")
@click.option("--json", "as_json", is_flag=True, help="One JSON document: reviewers and each language's status.")
def status_command(as_json: bool) -> None:
    """Each language's review status (catalog header and approvals) and who may review it."""
    from gateway.db import session_scope
    from gateway.rendering.review_status import review_status
    from gateway.translation_review import reviewable_languages, translators

    with session_scope() as session:
        grants = [(staff.username, locale) for staff, locale in translators(session)]
        statuses = [review_status(locale) for locale in reviewable_languages()]
    if as_json:
        emit_json({"languages": [s.as_dict() for s in statuses],
                   "translators": [{"username": u, "locale": loc} for u, loc in grants]})
        return
    for status in statuses:
        who = ", ".join(u for u, loc in grants if loc == status.locale) or "nobody (administrators only)"
        click.echo(f"{status.locale}\t{status.summary}\treviewers: {who}")


@translations_group.command("export")
@click.option("--locale", "locale", default=None, help="One language (default: every language with approvals).")
@click.option("--locales-dir", "locales_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="The catalogs to write (default: the gateway's own locales/ folder).")
@click.option("--json", "as_json", is_flag=True, help="One JSON document: what was written per language.")
def export_command(locale: str | None, locales_dir: Path | None, as_json: bool) -> None:
    """Write approved texts into locales/<x>/LC_MESSAGES/messages.po, set its review status, compile the .mo."""
    from gateway.db import session_scope
    from gateway.errors import InputError, Problem
    from gateway.rendering.approved_texts import read_approvals
    from gateway.rendering.review_status import clear_review_cache, po_path
    from gateway.translation_export import export_locale
    from gateway.translation_review import reviewable_languages

    if locale is not None and locale not in reviewable_languages():
        raise InputError([Problem("translations export", "--locale", None,
                                  f"{locale!r} is not a language with a catalog; one of "
                                  f"{', '.join(reviewable_languages())}")])
    with session_scope() as session:
        approvals = read_approvals(session, locale)
    results = []
    for tag in sorted(approvals):
        if not po_path(tag, locales_dir).exists():
            raise InputError([Problem("translations export", "--locales-dir", None,
                                      f"no catalog {po_path(tag, locales_dir)}")])
        results.append(export_locale(tag, approvals[tag], root=locales_dir))
    clear_review_cache()
    if as_json:
        emit_json({"exported": [r.as_dict() for r in results]})
        return
    if not results:
        click.echo("nothing approved yet" + (f" in {locale}" if locale else ""))
    for result in results:
        skipped = f"; {len(result.not_in_catalog)} approval(s) for messages no longer in the catalog" \
            if result.not_in_catalog else ""
        click.echo(f"{result.locale}: {result.written} text(s) written, {result.unchanged} already there; "
                   f"{result.status}{skipped}")


def register(cli: click.Group, groups: dict[str, click.Group]) -> None:
    """The ``gateway translations`` group."""
    cli.add_command(translations_group)
    groups["translations"] = translations_group
