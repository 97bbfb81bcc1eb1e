"""Structured JSON logs. Never log phone numbers, e-mail addresses or message bodies in clear:
use :func:`redact` for an address when a log line must say which one."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import sys
from datetime import UTC, datetime
from typing import Any

_RESERVED = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}


_KEYS: dict[tuple[str | None, str], bytes] = {}
_FALLBACK_KEY = secrets.token_bytes(32)


def _redaction_key() -> bytes:
    """The instance's secret key (``GATEWAY_SECRET_KEY`` or the one generated into ``var/``), read once."""
    try:
        from gateway.config import get_settings

        settings = get_settings()
        ident = (settings.secret_key, str(settings.var_dir))
        key = _KEYS.get(ident)
        if key is None:
            key = _KEYS[ident] = settings.session_secret().encode()
        return key
    except Exception:  # a log line must never fail: unusable settings get a per-process key
        return _FALLBACK_KEY


def redact(address: str | None) -> str:
    """A stable tag for a phone number or e-mail address (for correlating log lines), e.g. ``phone:ab12cd34ef``.

    HMAC-SHA256 keyed with the instance's secret key: the same address gives the same tag everywhere in one
    install, and nobody without the key can test guesses against a tag (phone numbers are few enough to try
    them all against a plain hash in seconds)."""
    if not address:
        return "-"
    digest = hmac.new(_redaction_key(), address.strip().lower().encode(), hashlib.sha256).hexdigest()[:10]
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
