"""``gateway import ctf|contacts|absences|terms FILE [--json]``: school data, all or nothing.

Bad input raises InputError before anything is written (for ctf and contacts, an unusable phone number or
e-mail address is only a warning unless ``--strict``); ``gateway.cli.main`` prints one line per problem
on stderr and exits non-zero. A progress bar (on stderr) shows while stdout is a terminal.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from gateway.cli.common import emit_json, stdout_is_terminal
from gateway.importing import ImportSummary, ProgressReporter, SilentProgress

_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)
_WARNINGS_SHOWN = 20


class RichProgress:
    """A :class:`ProgressReporter` drawing one bar per phase with rich."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._task: Any = None

    def phase(self, name: str, total: int | None = None) -> None:
        if self._task is not None:
            self._progress.update(self._task, completed=self._progress.tasks[-1].total or 0)
        self._task = self._progress.add_task(name, total=total)

    def advance(self, count: int = 1) -> None:
        if self._task is not None:
            self._progress.advance(self._task, count)


@contextmanager
def progress_reporter(enabled: bool) -> Iterator[ProgressReporter]:
    if not enabled:
        yield SilentProgress()
        return
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
        yield RichProgress(progress)


def _print_warnings(warnings: list[str]) -> None:
    for warning in warnings[:_WARNINGS_SHOWN]:
        click.echo(f"  warning: {warning}")
    if len(warnings) > _WARNINGS_SHOWN:
        click.echo(f"  … and {len(warnings) - _WARNINGS_SHOWN} more warnings (use --json to see them all)")


def _print_people(summary: ImportSummary) -> None:
    click.echo(f"{summary.source}: {summary.pupils.total} pupils, {summary.contacts.total} contacts, "
               f"{summary.links.total} links")
    for label, counts in (("pupils", summary.pupils), ("contacts", summary.contacts), ("links", summary.links)):
        click.echo(f"  {label}: {counts.created} new, {counts.updated} updated, {counts.unchanged} unchanged"
                   + (f", {counts.removed} removed" if counts.removed else ""))
    _print_warnings([str(w) for w in summary.warnings])


def _run(work: Callable[[Any, ProgressReporter], Any], as_json: bool) -> Any:
    from gateway.db import session_scope

    with progress_reporter(stdout_is_terminal() and not as_json) as progress, session_scope() as session:
        return work(session, progress)


def _people_command(name: str, help_text: str, importer_name: str) -> click.Command:
    @click.command(name, help=help_text)
    @click.argument("file", type=_FILE)
    @click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON document.")
    @click.option("--remove-missing-links", is_flag=True,
                  help="Remove links to adults this file no longer lists for its pupils (default: keep, warn).")
    @click.option("--strict", is_flag=True,
                  help="Refuse the whole file for any unusable phone number or e-mail address (default: drop "
                       "that one number or address and report it as a warning).")
    def command(file: Path, as_json: bool, remove_missing_links: bool, strict: bool) -> None:
        import gateway.importing as importing

        importer = getattr(importing, importer_name)
        summary: ImportSummary = _run(
            lambda session, progress: importer(session, file, remove_missing_links=remove_missing_links,
                                               progress=progress, strict=strict), as_json)
        if as_json:
            emit_json(summary.to_json())
        else:
            _print_people(summary)

    return command


ctf_command = _people_command("ctf", "Import pupils and contacts from a DfE Common Transfer File.", "import_ctf")
contacts_command = _people_command(
    "contacts", "Import or update pupils, contacts and preferences from a contacts CSV.", "import_contacts")


@click.command("absences")
@click.argument("file", type=_FILE)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON document.")
def absences_command(file: Path, as_json: bool) -> None:
    """Record register marks from an absences CSV (upn, date, session, code)."""
    from gateway.importing import import_absences
    from gateway.pipeline.cases import close_cases_after_import

    def import_and_close(session: Any, progress: ProgressReporter) -> Any:
        # A present mark imported after a case opened explains the absence: close it (and cancel what is
        # pending) in the same transaction as the marks.
        result = import_absences(session, file, progress=progress)
        close_cases_after_import(session, result.changes)
        return result

    summary = _run(import_and_close, as_json)
    if as_json:
        emit_json(summary.to_json())
        return
    click.echo(f"{summary.source}: {summary.created} new marks, {summary.updated} changed, "
               f"{summary.unchanged} unchanged; {len(summary.now_present)} now present")
    _print_warnings([str(w) for w in summary.warnings])


@click.command("terms")
@click.argument("file", type=_FILE)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON document.")
def terms_command(file: Path, as_json: bool) -> None:
    """Import half-terms and INSET days from a .toml or .ics file."""
    from gateway.importing import import_terms

    summary = _run(lambda session, _progress: import_terms(session, file), as_json)
    if as_json:
        emit_json(summary.to_json())
        return
    click.echo(f"{summary.source}: {summary.half_terms.total} half-terms ({summary.half_terms.created} new, "
               f"{summary.half_terms.updated} updated), {summary.inset_days.total} INSET days "
               f"({summary.inset_days.created} new)")
    _print_warnings([str(w) for w in summary.warnings])


def register(cli: click.Group, groups: dict[str, click.Group]) -> None:
    """Add ``import ctf``, ``import contacts``, ``import absences`` and ``import terms``."""
    for command in (ctf_command, contacts_command, absences_command, terms_command):
        groups["import"].add_command(command)
