"""What the Twilio SMS and voice channels share: the REST client pinned to ``TWILIO_API_URL``, error mapping.

The twilio SDK builds absolute URLs on its own hosts (``https://api.twilio.com``) and, when an edge or
region is set (arguments or ``TWILIO_EDGE`` / ``TWILIO_REGION``), rewrites them in ``Client.get_hostname``
just before handing them to its ``HttpClient``. Our HttpClient is the last step of every request, so it
replaces the scheme and host there: every request goes to the configured base, whatever the SDK chose.
"""

from __future__ import annotations

import contextvars
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter
from twilio.base.exceptions import TwilioRestException, TwilioServiceException
from twilio.http import HttpClient
from twilio.http.response import Response
from twilio.rest import Client

from channels import errors
from channels.errors import PermanentDeliveryError, TransientDeliveryError
from channels.rate_limit import RateLimiter
from channels.status import PERMANENT_ERROR_CODES

log = logging.getLogger(__name__)

# Sent with each create so a fake (the sandbox) can count how often one outbox message was asked for.
IDEMPOTENCY_HEADER = "X-Gateway-Idempotency-Key"
_idempotency_key: contextvars.ContextVar[str | None] = contextvars.ContextVar("twilio_idempotency", default=None)

# Twilio's own codes that mean "slow down" or "try again": 20429 too many concurrent requests,
# 20500/20503 internal error / service unavailable, 30001 queue overflow.
TRANSIENT_CODES = frozenset({20429, 20500, 20503, 30001})


class ApiBaseHttpClient(HttpClient):  # type: ignore[misc]  # the SDK is untyped
    """An SDK HttpClient that sends every request to ``api_url`` and keeps one requests Session per thread.

    One Session per thread keeps connections alive without sharing a Session across threads (requests does
    not promise that is safe). The SDK's own client logs request bodies, which hold phone numbers; this
    one logs only the method, path and status."""

    def __init__(
        self, api_url: str, timeout: float = 15.0, pool_size: int = 4, limiter: RateLimiter | None = None
    ) -> None:
        super().__init__(log, False, timeout)
        self.limiter = limiter
        parts = urlsplit(api_url.rstrip("/"))
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"TWILIO_API_URL {api_url!r} is not an http(s) URL")
        self._scheme, self._netloc, self._prefix = parts.scheme, parts.netloc, parts.path
        self._pool_size = pool_size
        self._local = threading.local()
        self._sessions: list[requests.Session] = []
        self._sessions_lock = threading.Lock()

    def route(self, url: str) -> str:
        """``url`` with its scheme and host replaced by the configured base (its path kept, prefixed)."""
        parts = urlsplit(url)
        return urlunsplit((self._scheme, self._netloc, self._prefix + parts.path, parts.query, ""))

    def _session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            adapter = HTTPAdapter(pool_connections=1, pool_maxsize=self._pool_size)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            self._local.session = session
            with self._sessions_lock:
                self._sessions.append(session)
        return session

    def request(
        self,
        method: str,
        uri: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        """Send one SDK request to the configured base; remembers the reply's headers for Retry-After."""
        url = self.route(uri)
        all_headers = dict(headers or {})
        key = _idempotency_key.get()
        if key:
            all_headers[IDEMPOTENCY_HEADER] = key
        session = self._session()
        prepared = session.prepare_request(
            requests.Request(method.upper(), url, params=params, data=data, headers=all_headers, auth=auth)  # type: ignore[arg-type]
        )
        settings = session.merge_environment_settings(prepared.url or url, {}, None, None, None)
        if self.limiter is not None and prepared.method == "POST":
            # The permit is taken once the request is built, just before its bytes leave: the provider counts
            # arrivals, so the less work between permit and wire, the closer its count is to ours.
            self.limiter.acquire()
        reply = session.send(
            prepared, timeout=timeout if timeout is not None else self.timeout, allow_redirects=allow_redirects,
            **settings,
        )
        self._local.last_headers = reply.headers
        log.debug("twilio %s %s -> %s", method, urlsplit(url).path, reply.status_code)
        return Response(int(reply.status_code), reply.text, reply.headers)

    def last_retry_after(self) -> float | None:
        """The Retry-After of this thread's last reply, in seconds, if it had one."""
        headers = getattr(self._local, "last_headers", None)
        return parse_retry_after(headers.get("Retry-After") if headers else None)

    def close(self) -> None:
        """Close every thread's Session (idempotent)."""
        with self._sessions_lock:
            sessions, self._sessions = self._sessions, []
        for session in sessions:
            session.close()


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After as seconds: either a number of seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def make_client(
    account_sid: str, auth_token: str, api_url: str, timeout: float = 15.0, limiter: RateLimiter | None = None
) -> Client:
    """A twilio.rest.Client whose every request goes to ``api_url``; each create waits for ``limiter``."""
    return Client(account_sid, auth_token, http_client=ApiBaseHttpClient(api_url, timeout=timeout, limiter=limiter))


def map_twilio_error(exc: TwilioRestException | TwilioServiceException, retry_after: float | None) -> Exception:
    """The project's error for a Twilio REST error (by Twilio's ``code`` first, then the HTTP status)."""
    code = int(exc.code) if isinstance(exc.code, int) or str(exc.code or "").isdigit() else None
    status = int(exc.status)
    code_text = str(code) if code is not None else str(status)
    detail = str(getattr(exc, "msg", None) or getattr(exc, "detail", None) or "")
    reason = PERMANENT_ERROR_CODES.get(code_text)
    if reason is not None:
        return PermanentDeliveryError(reason, code_text, detail)
    if status == 429 or status >= 500 or (code is not None and code in TRANSIENT_CODES):
        return TransientDeliveryError(retry_after, code_text, detail)
    if status in (401, 403):
        # Wrong credentials fail every message alike: the operator must fix them, so retry later.
        return TransientDeliveryError(retry_after, code_text, "Twilio refused our credentials")
    return PermanentDeliveryError(errors.REJECTED, code_text, detail)


@contextmanager
def twilio_errors(http_client: ApiBaseHttpClient, idempotency_key: str) -> Iterator[None]:
    """Run an SDK call with the idempotency header set, turning its failures into the project's errors."""
    token = _idempotency_key.set(idempotency_key)
    try:
        yield
    except (TwilioRestException, TwilioServiceException) as exc:
        raise map_twilio_error(exc, http_client.last_retry_after()) from exc
    except requests.ConnectTimeout as exc:
        raise TransientDeliveryError(None, "connect_timeout", "Twilio did not answer") from exc
    except requests.Timeout as exc:
        # The request may have been accepted: the pipeline's retry could then send twice (at-least-once).
        raise TransientDeliveryError(None, "timeout", "no reply from Twilio in time") from exc
    except requests.ConnectionError as exc:
        raise TransientDeliveryError(None, "connection_error", type(exc).__name__) from exc
    finally:
        _idempotency_key.reset(token)
