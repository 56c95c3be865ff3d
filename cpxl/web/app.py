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
    pages = Jinja2Templates(directory=HERE / "templates")
    failures = Failures()

    def wants_json(request: Request) -> bool:
        return "application/json" in request.headers.get("accept", "")

    def page(request: Request, name: str, status: int = 200, **context: Any) -> Response:
        context.setdefault("account", getattr(request.state, "account", None))
        context["csrf"] = csrf_token(request)
        context["portal"] = portal
        return pages.TemplateResponse(request, name, context, status_code=status)

    async def who(request: Request) -> Account:
        account = await account_of(portal, failures, request, idle_seconds)
        request.state.account = account
        return account

    async def refused(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, Refused)
        if wants_json(request) or getattr(request.state, "basic", False):
            body = {"error": exc.code, "message_en": exc.en, "message_km": exc.km}
            headers = {"WWW-Authenticate": 'Basic realm="cpxl"'} if exc.status == 401 else None
            return JSONResponse(body, exc.status, headers=headers)
        return page(request, "error.html", exc.status, error=exc)

    async def sign_in_needed(request: Request, exc: Exception) -> Response:
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

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return await refused(
            request,
            Refused(
                exc.status_code,
                "not-found" if exc.status_code == 404 else "bad-request",
                "There is no such page. Go back to the portal's home page.",
                "មិនមានទំព័រនេះទេ។ សូមត្រឡប់ទៅទំព័រដើមរបស់វិបផតថល។",
            ),
        )

    # --- signing in and out -----------------------------------------------------------------

    async def signin_page(request: Request) -> Response:
        expired = request.query_params.get("expired") == "1"
        return page(request, "signin.html", next=_local(request.query_params.get("next")),
                    expired=expired)  # fmt: skip

    async def signin(request: Request) -> Response:
        form = await request.form(max_files=0, max_fields=5)
        security.check_csrf(request, form)
        login, password = str(form.get("login", "")), str(form.get("password", ""))
        account, why = await security.sign_in(portal, failures, request, login, password)
        if account is None:
            return page(request, "signin.html", 401, failed=why, next=_local(form.get("next")))
        security.start_session(request, account)
        return RedirectResponse(_local(form.get("next")) or "/", 303)

    async def signout(request: Request) -> Response:
        form = await request.form(max_files=0, max_fields=5)
        security.check_csrf(request, form)
        request.session.clear()
        return RedirectResponse("/signin", 303)

    async def home(request: Request) -> Response:
        account = await who(request)
        target = {"sender": "/returns", "officer": "/board", "national": "/national"}
        return RedirectResponse(target[account.role], 303)

    # --- returns ----------------------------------------------------------------------------

    async def returns_page(request: Request) -> Response:
        account = await who(request)
        portal.may_upload(account)
        uploads = await run_in_threadpool(portal.uploads_for, account)
        return page(request, "returns.html", uploads=uploads,
                    templates=portal.templates_for(account), max_mb=max_upload >> 20)  # fmt: skip

    async def upload(request: Request) -> Response:
        account = await who(request)
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > max_upload + FORM_OVERHEAD:
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
                portal.receive, account, sent.filename, sent.file, address
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

    async def return_page(request: Request) -> Response:
        account = await who(request)
        up = await run_in_threadpool(portal.upload_for, account, request.path_params["upload_id"])
        if wants_json(request):
            answer = dict(up.result or {})
            answer["feedback_url"] = str(request.url_for("feedback", upload_id=up.id))
            return JSONResponse(answer)
        label_en, label_km, action_en, action_km = portal.status_text(up.status)
        findings = list((up.result or {}).get("findings", []))
        return page(request, "return.html", up=up, findings=findings, label_en=label_en,
                    label_km=label_km, action_en=action_en, action_km=action_km,
                    ministry=portal.ministry_name(up.ministry))  # fmt: skip

    async def feedback(request: Request) -> Response:
        account = await who(request)
        path = await run_in_threadpool(
            portal.feedback_file, account, request.path_params["upload_id"], address_of(request)
        )
        return FileResponse(path, media_type=XLSX, filename=path.name)

    async def template(request: Request) -> Response:
        account = await who(request)
        path = await run_in_threadpool(
            portal.template_file, account, request.path_params["name"], address_of(request)
        )
        return FileResponse(path, media_type=XLSX, filename=path.name)

    # --- the officer's board and the national team's outputs --------------------------------

    def chosen_period(request: Request) -> str:
        given = request.query_params.get("period", "")
        if given:
            return check_period(given)
        known = portal.periods()
        # With nothing issued or received yet: last year, the annual returns being collected.
        return known[0] if known else str(date.today().year - 1)

    async def status_json(request: Request) -> Response:
        account = await who(request)
        period = request.query_params.get("period", "")
        report = await run_in_threadpool(portal.status, account, check_period(period))
        return JSONResponse(report.to_dict())

    async def board(request: Request) -> Response:
        account = await who(request)
        portal.staff_only(account)
        period = chosen_period(request)
        report = await run_in_threadpool(portal.status, account, period)
        uploads = await run_in_threadpool(portal.uploads_for, account)
        files = portal.feedback_files(account)
        return page(request, "board.html", report=report, period=period,
                    periods=portal.periods(), uploads=uploads, files=files)  # fmt: skip

    async def any_feedback(request: Request) -> Response:
        account = await who(request)
        path = await run_in_threadpool(
            portal.any_feedback, account, request.path_params["name"], address_of(request)
        )
        return FileResponse(path, media_type=XLSX, filename=path.name)

    def span_of(period: str, first: str) -> str:
        return check_span(f"{first.strip()}-{period}" if first.strip() else period)

    async def national_page(request: Request) -> Response:
        account = await who(request)
        portal.national_only(account)
        period = chosen_period(request)
        span = span_of(period, request.query_params.get("from", ""))
        report = await run_in_threadpool(portal.status, account, period)
        files = portal.national_files(account, span)
        return page(request, "national.html", report=report, period=period, span=span,
                    first=span.partition("-")[0] if "-" in span else "",
                    periods=portal.periods(), files=files)  # fmt: skip

    async def national_build(request: Request) -> Response:
        account = await who(request)
        form = await request.form(max_files=0, max_fields=5)
        security.check_csrf(request, form)
        span = check_span(str(form.get("span", "")))
        await run_in_threadpool(api.build_national, portal, account, span)
        if wants_json(request) or request.state.basic:
            return JSONResponse({"periods": span, "files": portal.national_files(account, span)})
        first, _, last = span.partition("-")
        query = f"period={last}&from={first}" if last else f"period={first}"
        return RedirectResponse(f"/national?{query}", 303)

    async def national_file(request: Request) -> Response:
        account = await who(request)
        span = check_span(request.path_params["span"])
        name = request.path_params["name"]
        path = await run_in_threadpool(
            portal.national_file, account, span, name, address_of(request)
        )
        media = XLSX if path.suffix == ".xlsx" else None
        return FileResponse(path, media_type=media, filename=path.name)

    routes = [
        Route("/", home),
        Route("/signin", signin_page, methods=["GET"]),
        Route("/signin", signin, methods=["POST"]),
        Route("/signout", signout, methods=["POST"]),
        Route("/returns", returns_page, methods=["GET"]),
        Route("/returns", upload, methods=["POST"]),
        Route("/returns/{upload_id}", return_page, name="return_page"),
        Route("/returns/{upload_id}/feedback", feedback, name="feedback"),
        Route("/templates/{name}", template),
        Route("/status", status_json),
        Route("/board", board),
        Route("/feedback/{name}", any_feedback),
        Route("/national", national_page, methods=["GET"]),
        Route("/national", national_build, methods=["POST"]),
        Route("/national/{span}/{name}", national_file),
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
    handlers = {Refused: refused, SignInNeeded: sign_in_needed, HTTPException: http_error}
    return Starlette(routes=routes, middleware=middleware, exception_handlers=handlers)


def _local(target: object) -> str:
    """A path on this portal to go to after signing in; anything else is dropped."""
    text = str(target or "")
    ok = text.startswith("/") and not text.startswith("//") and "\\" not in text
    return text if ok else ""
