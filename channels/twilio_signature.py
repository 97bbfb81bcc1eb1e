"""Twilio request signatures (``X-Twilio-Signature``), checked by the ``twilio`` package's own RequestValidator.

signature = base64(HMAC-SHA1(auth token, full URL + each POST parameter name and its values)), where Twilio
sorts the names, and for a name sent more than once sorts its values and drops duplicates. So the form must
reach the validator as a multi-dict (every value of a repeated key), never flattened into a dict.

A JSON body is not signed parameter by parameter: Twilio puts ``bodySHA256`` (hex SHA-256 of the body) in the
query string, signs the URL, and the validator checks the body against that hash. Every check answers
True or False; none raises on a malformed request.

Webhooks check against the *public* URL (GATEWAY_PUBLIC_URL + path + query), which is what Twilio signed, not
the URL this server saw behind a proxy; RequestValidator also accepts it with and without the default port.
The sandbox and the parent-phone page sign with ``compute_signature``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping
from urllib.parse import parse_qs, urlsplit

from twilio.request_validator import RequestValidator

log = logging.getLogger(__name__)

FormParams = Mapping[str, str] | Iterable[tuple[str, str]]


class SignedForm:
    """A read-only multi-dict of form fields in the shape RequestValidator reads (``getall``, like aiohttp's
    MultiDict): iterating gives each name once, ``getall`` every value sent under it."""

    def __init__(self, params: FormParams) -> None:
        pairs = params.items() if isinstance(params, Mapping) else params
        self._values: dict[str, list[str]] = {}
        for name, value in pairs:
            self._values.setdefault(str(name), []).append(str(value))

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def getall(self, name: str) -> list[str]:
        return list(self._values[name])


def compute_signature(auth_token: str, url: str, params: FormParams) -> str:
    """Twilio's signature of a form POST to ``url`` (repeated keys: pass a list of pairs)."""
    return str(RequestValidator(auth_token).compute_signature(url, SignedForm(params)))


def body_hash(body: str) -> str:
    """The ``bodySHA256`` query value Twilio adds for a JSON body."""
    return str(RequestValidator("").compute_hash(body))


def is_valid_signature(auth_token: str, url: str, params: FormParams | str, signature: str | None) -> bool:
    """True only when ``signature`` is Twilio's signature of this request (constant-time compare).

    ``params`` is the form (a mapping, or a list of pairs when a key repeats) or, for a JSON body, the raw body
    text, which must then match ``bodySHA256`` in ``url``'s query string."""
    if not signature or not auth_token:
        return False
    validator = RequestValidator(auth_token)
    try:
        if isinstance(params, str):
            if "bodySHA256" not in parse_qs(urlsplit(url).query):
                return False  # a raw body is only ever signed through its hash in the URL
            return bool(validator.validate(url, params, signature))  # checks the hash, then the URL
        return bool(validator.validate(url, SignedForm(params), signature))
    except (TypeError, ValueError, UnicodeError):
        log.warning("a webhook signature could not be checked", exc_info=True)
        return False
