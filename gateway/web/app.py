"""The web app: staff pages, the Twilio webhooks, ``/healthz`` and ``/metrics``.

``create_app(settings)`` builds one app. Staff pages need a signed-in session (kept in the database, see
``gateway.web.sessions``; the cookie is HttpOnly, SameSite=Lax, Secure when the public URL is https) and a
CSRF token on every state-changing request; they are never cached (``Cache-Control: no-store``). The
webhooks are exempt from sessions and CSRF: Twilio signs them. In sandbox mode the Twilio sandbox API is
mounted at ``/sandbox/twilio`` (point ``TWILIO_API_URL`` at it) and the parent-phone and mailbox pages are
shown; all of ``/sandbox/`` answers only to this machine (it holds every message body).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.config import Settings, get_settings, is_loopback_host
from gateway.db import get_engine, session_factory
from gateway.metrics import GatewayMetrics
from gateway.web.auth import AttemptLimiter
from gateway.web.deps import LoginRequired
from gateway.web.sessions import DatabaseSessions
from gateway.web.templating import STATIC_DIR, render

log = logging.getLogger(__name__)

SANDBOX_TWILIO_MOUNT = "/sandbox/twilio"
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"content-security-policy",
     b"default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; "
     b"form-action 'self'; base-uri 'none'"),
]


NO_STORE = (b"cache-control", b"no-store")


class SecurityHeaders:
    """Adds the security headers to every response (and ``Cache-Control: no-store`` to all but the static
    files: staff pages show children's data, which must not stay in a shared PC's browser cache) and counts
    webhook calls (pure ASGI: no body buffering, so the webhook path stays fast)."""

    def __init__(self, app: ASGIApp, metrics: GatewayMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name for name, _ in headers}
                headers.extend(h for h in SECURITY_HEADERS if h[0] not in present)
                if not path.startswith("/static/"):
                    headers = [h for h in headers if h[0].lower() != NO_STORE[0]] + [NO_STORE]
                message["headers"] = headers
                if path.startswith("/webhooks/"):
                    route = path.removeprefix("/webhooks/twilio/").split("/", 1)[0] or "unknown"
                    self.metrics.webhook_requests.labels(route, str(message["status"])).inc()
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _wants_html(request: Request) -> bool:
    return not request.url.path.startswith(("/webhooks/", "/healthz", "/metrics", SANDBOX_TWILIO_MOUNT))


def _install_error_pages(app: FastAPI) -> None:
    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, exc: LoginRequired) -> Response:
        if request.headers.get("hx-request"):  # htmx: make the whole page go to the sign-in form
            return Response(status_code=401, headers={"HX-Redirect": exc.login_url})
        return RedirectResponse(exc.login_url, status_code=303)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if not _wants_html(request):
            return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)
        if getattr(request.state, "staff", None) is None and "session" in request.scope:
            _recognise_staff(request)  # an unknown path ran no page dependency: keep the navigation anyway
        titles = {403: "Not allowed", 404: "Not found", 405: "Not allowed", 429: "Slow down"}
        return render(request, "error.html", {"title": titles.get(exc.status_code, "Something went wrong"),
                                              "detail": "There is no page at this address: use the menu above."
                                              if exc.status_code == 404 and exc.detail == "Not Found" else exc.detail,
                                              "status": exc.status_code},
                      status_code=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def bad_form(request: Request, exc: RequestValidationError) -> Response:
        if not _wants_html(request):
            return JSONResponse({"detail": "invalid request"}, status_code=422)
        fields = sorted({str(error["loc"][-1]) for error in exc.errors() if error.get("loc")})
        return render(request, "error.html", {"title": "Please check the form",
                                              "detail": "These fields were missing or not valid: "
                                                        + ", ".join(fields),
                                              "status": 422}, status_code=422)


FORWARDING_HEADERS = (b"x-forwarded-for", b"forwarded", b"x-real-ip")


def is_local_request(scope: Scope) -> bool:
    """True when the request comes from this machine itself, not relayed by a proxy for someone else.

    A request carrying a forwarding header came through a proxy, so it is not local even when the proxy
    runs here (``testclient`` is Starlette's in-process test client)."""
    client = scope.get("client") or ("", 0)
    host = str(client[0])
    if host != "testclient" and not is_loopback_host(host):
        return False
    return not any(name.lower() in FORWARDING_HEADERS for name, _ in scope.get("headers", []))


class LoopbackOnlySandbox:
    """Everything under ``/sandbox/`` (the Twilio sandbox's REST API and controls, which hold every message
    body, and the sandbox pages) answers only to this machine: 403 for anyone else."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] == "http" and path.startswith("/sandbox/") and not is_local_request(scope):
            response = JSONResponse({"detail": "The sandbox answers only on this machine."}, status_code=403)
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _mount_sandbox(app: FastAPI, settings: Settings) -> None:
    from channels.sandbox.twilio_api import create_app as create_twilio_sandbox
    from channels.sandbox.twilio_state import TwilioSandboxState

    account_sid, auth_token = settings.twilio_credentials()
    state = TwilioSandboxState(account_sid, auth_token)
    app.state.twilio_sandbox = state
    app.mount(SANDBOX_TWILIO_MOUNT, create_twilio_sandbox(state), name="twilio-sandbox")


def _recognise_staff(request: Request) -> None:
    """Set ``request.state.staff`` when a signed-in member of staff asked for a page that does not exist."""
    from gateway.db import get_engine, session_scope
    from gateway.web.deps import LoginRequired, app_settings, current_staff

    if not isinstance(request.session.get("staff_id"), int):
        return
    try:
        with session_scope(get_engine(app_settings(request).database_url)) as db:
            current_staff(request, db)
    except LoginRequired:
        pass


def create_app(settings: Settings | None = None, *, mailbox: Any = None, local_url: str | None = None) -> FastAPI:
    """The gateway's web app for ``settings`` (default: the process settings).

    ``mailbox``: the SMTP sandbox's mailbox for the mailbox page; ``local_url``: where this server itself
    listens (the parent-phone page posts replies to the real webhook there)."""
    settings = settings or get_settings()
    settings.check_sandbox_exposure()
    app = FastAPI(title="Parent communication gateway", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.settings = settings
    app.state.login_limiter = AttemptLimiter()
    app.state.mailbox = mailbox
    app.state.local_url = local_url
    app.state.twilio_sandbox = None

    def metrics_session() -> Any:
        return session_factory(get_engine(settings.database_url))()

    from gateway import clock

    app.state.metrics = GatewayMetrics(metrics_session, clock.now, settings.timezone)

    from gateway.web import auth, health, webhooks
    from gateway.web.pages import ROUTERS

    app.include_router(health.router)
    app.include_router(webhooks.router)
    app.include_router(auth.router)
    for router in ROUTERS:
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static")
    if settings.sandbox:
        _mount_sandbox(app, settings)
    _install_error_pages(app)

    app.add_middleware(DatabaseSessions, database_url=settings.database_url,
                       https_only=settings.public_url.startswith("https://"))
    if settings.sandbox:
        app.add_middleware(LoopbackOnlySandbox)
    app.add_middleware(SecurityHeaders, metrics=app.state.metrics)
    return app



