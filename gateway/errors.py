"""The gateway's own exceptions.

GatewayError
 ├── InputError        bad input file or argument: one Problem per thing wrong; nothing was written
 └── NotFoundError     an id, UPN or kind that does not exist
(ConfigError lives in gateway.config; delivery errors live in channels.errors.)
"""

from __future__ import annotations

from dataclasses import dataclass


class GatewayError(Exception):
    """Base of every error the CLI reports as a clean one-line message."""


ERROR = "error"
WARNING = "warning"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input: which file, where in it, which field, what is wrong.

    ``severity`` is ``error`` (the input is refused) or ``warning`` (the input is used and the problem
    reported: a dropped phone number, an unknown language code, ...); ``value`` is the offending value as
    the file gave it, when there is one."""

    source: str
    where: str
    field: str | None
    message: str
    severity: str = ERROR
    value: str | None = None

    def __str__(self) -> str:
        parts = [self.source, self.where]
        if self.field:
            parts.append(self.field)
        return ": ".join(p for p in parts if p) + f": {self.message}"

    def as_dict(self) -> dict[str, str | None]:
        return {"source": self.source, "where": self.where, "field": self.field, "message": self.message,
                "severity": self.severity, "value": self.value}


class InputError(GatewayError):
    """Input was rejected as a whole; ``problems`` lists every problem found, not only the first."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class NotFoundError(GatewayError):
    pass
