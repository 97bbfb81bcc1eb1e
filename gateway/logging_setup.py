"""Structured JSON logs. Never log phone numbers, e-mail addresses or message bodies in clear:
use :func:`redact` for an address when a log line must say which one."""

from __future__ import annotations

import hashlib
import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

_RESERVED = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}


def redact(address: str | None) -> str:
    """A stable, non-reversible tag for a phone number or e-mail address (for correlating log lines)."""
    if not address:
        return "-"
    digest = hashlib.sha256(address.strip().lower().encode()).hexdigest()[:10]
    kind = "email" if "@" in address else "phone"
    return f"{kind}:{digest}"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _RESERVED and not key.startswith("_"):
                document[key] = value
        if record.exc_info:
            document["exc"] = self.formatException(record.exc_info)
        return json.dumps(document, default=str, ensure_ascii=False)


def configure_logging(level: int = logging.INFO) -> None:
    root = logging.getLogger()
    if any(getattr(h, "_gateway", False) for h in root.handlers):
        root.setLevel(level)
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler._gateway = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    for noisy in ("twilio.http_client", "httpx", "aiosmtplib", "mail.log", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
