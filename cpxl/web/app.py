"""The portal's routes: each parses a request, calls :class:`cpxl.portal.Portal`, renders a page.

A browser gets pages; a script that sends ``Accept: application/json`` (with HTTP Basic) gets the
same answers as JSON, and every refusal as ``{"error", "message_en", "message_km"}``.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cpxl import api
from cpxl.portal import (
    MAX_UPLOAD_BYTES,
    Portal,
    Refused,
    check_period,
    check_span,
    empty_file,
    too_large,
)
from cpxl.store.users import Account
from cpxl.web import security
from cpxl.web.security import Failures, SignInNeeded, account_of, address_of, csrf_token

HERE: Final = Path(__file__).resolve().parent
XLSX: Final = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FORM_OVERHEAD: Final = 64 * 1024  # multipart boundaries and the small fields besides the file
SESSION_COOKIE: Final = "cpxl_session"


class BodyTooLarge(Exception):
    """The request's body passed the upload limit while it was being read."""


class Guard:
    """Plain ASGI middleware: safe response headers, and no request body past the limit."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        read = 0

        async def counted() -> Message:
            nonlocal read
            message = await receive()
            read += len(message.get("body", b""))
            if read > self.limit:
                raise BodyTooLarge()
            return message

        async def headed(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] += [
                    (b"x-frame-options", b"DENY"),
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"same-origin"),
                    (b"content-security-policy", b"default-src 'self'; frame-ancestors 'none'"),
                    (b"cache-control", b"no-store"),
                ]
            await send(message)

        await self.app(scope, counted, headed)


def create_app(
    portal: Portal,
    *,
    secure_cookies: bool = False,
    idle_seconds: int = security.IDLE_SECONDS,
    max_upload: int = MAX_UPLOAD_BYTES,
) -> Starlette:
    """The portal as an ASGI application over an open :class:`Portal`."""
    site = Site(portal, idle_seconds, max_upload)
    routes = [
        Route("/", site.home),
        Route("/signin", site.signin_page, methods=["GET"]),
        Route("/signin", site.signin, methods=["POST"]),
        Route("/signout", site.signout, methods=["POST"]),
        Route("/returns", site.returns_page, methods=["GET"]),
        Route("/returns", site.upload, methods=["POST"]),
        Route("/returns/{upload_id}", site.return_page, name="return_page"),
        Route("/returns/{upload_id}/feedback", site.feedback, name="feedback"),
        Route("/templates/{name}", site.template),
        Route("/status", site.status_json),
        Route("/board", site.board),
        Route("/feedback/{name}", site.any_feedback),
        Route("/national", site.national_page, methods=["GET"]),
        Route("/national", site.national_build, methods=["POST"]),
        Route("/national/{span}/{name}", site.national_file),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    middleware = [
        Middleware(Guard, limit=max_upload + FORM_OVERHEAD),
        Middleware(
            SessionMiddleware,
            secret_key=portal.secret(),
            session_cookie=SESSION_COOKIE,
            max_age=14 * 24 * 3600,
            same_site="lax",
            https_only=secure_cookies,
        ),
    ]
    handlers = {
        Refused: site.refused,
        SignInNeeded: site.sign_in_needed,
        HTTPException: site.http_error,
    }
    return Starlette(routes=routes, middleware=middleware, exception_handlers=handlers)


class Site:
    """The portal's pages and answers, one method a route, over one open :class:`Portal`."""

    def __init__(self, portal: Portal, idle_seconds: int, max_upload: int) -> None:
        self.portal, self.idle_seconds, self.max_upload = portal, idle_seconds, max_upload
        self.pages = Jinja2Templates(directory=HERE / "templates")
        self.failures = Failures()

    def page(self, request: Request, name: str, status: int = 200, **context: Any) -> Response:
        """A rendered page, with the account, the form token and the portal at hand."""
        context.setdefault("account", getattr(request.state, "account", None))
        context["csrf"] = csrf_token(request)
        context["portal"] = self.portal
        return self.pages.TemplateResponse(request, name, context, status_code=status)

    async def who(self, request: Request) -> Account:
        """The signed-in account (or a sign-in demand), kept on the request for the page."""
        account = await account_of(self.portal, self.failures, request, self.idle_seconds)
        request.state.account = account
        return account

    async def refused(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, Refused)
        if wants_json(request) or getattr(request.state, "basic", False):
            body = {"error": exc.code, "message_en": exc.en, "message_km": exc.km}
            headers = {"WWW-Authenticate": 'Basic realm="cpxl"'} if exc.status == 401 else None
            return JSONResponse(body, exc.status, headers=headers)
        return self.page(request, "error.html", exc.status, error=exc)

    async def sign_in_needed(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, SignInNeeded)
        if wants_json(request):
            body = {
                "error": "session-expired" if exc.expired else "sign-in-needed",
                "message_en": "Sign in first: use HTTP Basic with your portal login.",
                "message_km": "សូមចូលប្រើជាមុនសិន។",
            }
            return JSONResponse(body, 401, headers={"WWW-Authenticate": 'Basic realm="cpxl"'})
        target = quote(request.url.path) if request.method == "GET" else "/"
        return RedirectResponse(f"/signin?next={target}&expired={int(exc.expired)}", 303)

    async def http_error(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return await self.refused(
            request,
            Refused(
                exc.status_code,
                "not-found" if exc.status_code == 404 else "bad-request",
                "There is no such page. Go back to the portal's home page.",
                "មិនមានទំព័រនេះទេ។ សូមត្រឡប់ទៅទំព័រដើមរបស់វិបផតថល។",
            ),
        )

    # --- signing in and out -----------------------------------------------------------------

    async def signin_page(self, request: Request) -> Response:
        expired = request.query_params.get("expired") == "1"
        return self.page(request, "signin.html", next=_local(request.query_params.get("next")),
                    expired=expired)  # fmt: skip

    async def signin(self, request: Request) -> Response:
        form = await request.form(max_files=0, max_fields=5)
        security.check_csrf(request, form)
        login, password = str(form.get("login", "")), str(form.get("password", ""))
        account, why = await security.sign_in(self.portal, self.failures, request, login, password)
        if account is None:
            return self.page(request, "signin.html", 401, failed=why, next=_local(form.get("next")))
        security.start_session(request, account)
        return RedirectResponse(_local(form.get("next")) or "/", 303)

    async def signout(self, request: Request) -> Response:
        form = await request.form(max_files=0, max_fields=5)
        security.check_csrf(request, form)
        request.session.clear()
        return RedirectResponse("/signin", 303)

    async def home(self, request: Request) -> Response:
        account = await self.who(request)
        target = {"sender": "/returns", "officer": "/board", "national": "/national"}
        return RedirectResponse(target[account.role], 303)

    # --- returns ----------------------------------------------------------------------------

    async def returns_page(self, request: Request) -> Response:
        account = await self.who(request)
        self.portal.may_upload(account)
        uploads = await run_in_threadpool(self.portal.uploads_for, account)
        templates = self.portal.templates_for(account)
        return self.page(request, "returns.html", uploads=uploads, templates=templates,
                         max_mb=self.max_upload >> 20)  # fmt: skip

    async def upload(self, request: Request) -> Response:
        account = await self.who(request)
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_upload + FORM_OVERHEAD:
            raise too_large()
        try:
            form = await request.form(max_files=1, max_fields=5)
        except BodyTooLarge:
            raise too_large() from None
        try:
            security.check_csrf(request, form)
            sent = form.get("file")
            if not isinstance(sent, UploadFile) or not sent.filename:
                raise empty_file()
            address = address_of(request)
            received = await run_in_threadpool(
                self.portal.receive, account, sent.filename, sent.file, address
            )
        finally:
            await form.close()
        up = received.upload
        if wants_json(request) or request.state.basic:
            answer = dict(received.result)
            answer["upload_url"] = str(request.url_for("return_page", upload_id=up.id))
            answer["feedback_url"] = str(request.url_for("feedback", upload_id=up.id))
            return JSONResponse(answer)
        return RedirectResponse(f"/returns/{up.id}", 303)

    async def return_page(self, request: Request) -> Response:
        account = await self.who(request)
        up = await run_in_threadpool(
            self.portal.upload_for, account, request.path_params["upload_id"]
        )
        if wants_json(request):
            answer = dict(up.result or {})
            answer["feedback_url"] = str(request.url_for("feedback", upload_id=up.id))
            return JSONResponse(answer)
        label_en, label_km, action_en, action_km = self.portal.status_text(up.status)
        findings = list((up.result or {}).get("findings", []))
        return self.page(request, "return.html", up=up, findings=findings, label_en=label_en,
                    label_km=label_km, action_en=action_en, action_km=action_km,
                    ministry=self.portal.ministry_name(up.ministry))  # fmt: skip

    async def feedback(self, request: Request) -> Response:
        account = await self.who(request)
        path = await run_in_threadpool(
            self.portal.feedback_file,
            account,
            request.path_params["upload_id"],
            address_of(request),
        )
        return FileResponse(path, media_type=XLSX, filename=path.name)

    async def template(self, request: Request) -> Response:
        account = await self.who(request)
        path = await run_in_threadpool(
            self.portal.template_file, account, request.path_params["name"], address_of(request)
        )
        return FileResponse(path, media_type=XLSX, filename=path.name)

    # --- the officer's board and the national team's outputs --------------------------------

    def chosen_period(self, request: Request) -> str:
        given = request.query_params.get("period", "")
        if given:
            return check_period(given)
        known = self.portal.periods()
        # With nothing issued or received yet: last year, the annual returns being collected.
        return known[0] if known else str(date.today().year - 1)

    async def status_json(self, request: Request) -> Response:
        account = await self.who(request)
        period = request.query_params.get("period", "")
        report = await run_in_threadpool(self.portal.status, account, check_period(period))
        return JSONResponse(report.to_dict())

    async def board(self, request: Request) -> Response:
        account = await self.who(request)
        self.portal.staff_only(account)
        period = self.chosen_period(request)
        report = await run_in_threadpool(self.portal.status, account, period)
        uploads = await run_in_threadpool(self.portal.uploads_for, account)
        files = self.portal.feedback_files(account)
        return self.page(request, "board.html", report=report, period=period,
                    periods=self.portal.periods(), uploads=uploads, files=files)  # fmt: skip

    async def any_feedback(self, request: Request) -> Response:
        account = await self.who(request)
        path = await run_in_threadpool(
            self.portal.any_feedback, account, request.path_params["name"], address_of(request)
        )
        return FileResponse(path, media_type=XLSX, filename=path.name)

    async def national_page(self, request: Request) -> Response:
        account = await self.who(request)
        self.portal.national_only(account)
        period = self.chosen_period(request)
        span = span_of(period, request.query_params.get("from", ""))
        report = await run_in_threadpool(self.portal.status, account, period)
        files = self.portal.national_files(account, span)
        return self.page(request, "national.html", report=report, period=period, span=span,
                    first=span.partition("-")[0] if "-" in span else "",
                    periods=self.portal.periods(), files=files)  # fmt: skip

    async def national_build(self, request: Request) -> Response:
        account = await self.who(request)
        form = await request.form(max_files=0, max_fields=5)
        security.check_csrf(request, form)
        span = check_span(str(form.get("span", "")))
        await run_in_threadpool(api.build_national, self.portal, account, span)
        if wants_json(request) or request.state.basic:
            return JSONResponse(
                {"periods": span, "files": self.portal.national_files(account, span)}
            )
        first, _, last = span.partition("-")
        query = f"period={last}&from={first}" if last else f"period={first}"
        return RedirectResponse(f"/national?{query}", 303)

    async def national_file(self, request: Request) -> Response:
        account = await self.who(request)
        span = check_span(request.path_params["span"])
        name = request.path_params["name"]
        path = await run_in_threadpool(
            self.portal.national_file, account, span, name, address_of(request)
        )
        media = XLSX if path.suffix == ".xlsx" else None
        return FileResponse(path, media_type=media, filename=path.name)


def wants_json(request: Request) -> bool:
    """Whether a script asked for JSON rather than a page."""
    return "application/json" in request.headers.get("accept", "")


def span_of(period: str, first: str) -> str:
    """The span of periods a national page shows: from ``first`` (if given) to ``period``."""
    return check_span(f"{first.strip()}-{period}" if first.strip() else period)


def _local(target: object) -> str:
    """A path on this portal to go to after signing in; anything else is dropped."""
    text = str(target or "")
    ok = text.startswith("/") and not text.startswith("//") and "\\" not in text
    return text if ok else ""
