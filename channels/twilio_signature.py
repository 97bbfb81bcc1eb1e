"""Twilio request signatures (``X-Twilio-Signature``).

signature = base64(HMAC-SHA1(auth token, full public URL + each POST parameter name and value, sorted by
name)). Webhooks check it against the *public* URL (GATEWAY_PUBLIC_URL + path), which is what Twilio signed,
not the URL this server saw behind a proxy. The sandbox and the parent-phone page sign with the same code.
"""

from __future__ import annotations

from collections.abc import Mapping

from twilio.request_validator import RequestValidator


def compute_signature(auth_token: str, url: str, params: Mapping[str, str]) -> str:
    return str(RequestValidator(auth_token).compute_signature(url, dict(params)))


def is_valid_signature(auth_token: str, url: str, params: Mapping[str, str], signature: str | None) -> bool:
    """True only when ``signature`` is Twilio's signature of ``url`` and ``params`` (constant-time compare)."""
    if not signature or not auth_token:
        return False
    return bool(RequestValidator(auth_token).validate(url, dict(params), signature))
