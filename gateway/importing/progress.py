"""How an import reports progress; the CLI shows a rich progress bar, library callers see nothing."""

from __future__ import annotations

from typing import Protocol


class ProgressReporter(Protocol):
    def phase(self, name: str, total: int | None = None) -> None:
        """A new step starts (``total`` items, or None when not known in advance)."""

    def advance(self, count: int = 1) -> None:
        """``count`` more items of the current step are done."""


class SilentProgress:
    """The default: report nothing."""

    def phase(self, name: str, total: int | None = None) -> None:
        return None

    def advance(self, count: int = 1) -> None:
        return None
