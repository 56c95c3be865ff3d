"""Who is asking: signed session cookies or HTTP Basic, CSRF tokens, slowed failed sign-ins.

Sessions are Starlette's signed cookies (itsdangerous; HttpOnly, SameSite=Lax, Secure when asked)
holding only the login, a CSRF token and when the person was last seen; the account itself is read
from the store on every request, so a disabled account is out at its next click.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import secrets
import time
from collections import defaultdict, deque
from typing import Any, Final

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request

from cpxl.portal import Portal, Refused
from cpxl.store.users import Account

IDLE_SECONDS: Final = 8 * 3600  # a session unused for a working day ends
FAILURE_DELAY_S: Final = 1.0  # every failed sign-in answers this much later
ADDRESS_WINDOW_S: Final = 15 * 60
ADDRESS_MAX_FAILURES: Final = 30  # failed sign-ins per address per window before it is refused


class SignInNeeded(Exception):
    """The request needs a signed-in account; ``expired`` when a session just ran out."""

    def __init__(self, expired: bool = False) -> None:
        super().__init__("sign in")
        self.expired = expired


class Failures:
    """Failed sign-ins per client address, to refuse an address that keeps guessing."""

    def __init__(self) -> None:
        self._seen: dict[str, deque[float]] = defaultdict(deque)

    def blocked(self, address: str) -> bool:
        """Whether this address has failed too often lately."""
        times = self._seen[address]
        cutoff = time.monotonic() - ADDRESS_WINDOW_S
        while times and times[0] < cutoff:
            times.popleft()
        return len(times) >= ADDRESS_MAX_FAILURES

    def add(self, address: str) -> None:
        """Count one failure."""
        self._seen[address].append(time.monotonic())


def address_of(request: Request) -> str:
    """The client's address, for the access log."""
    return request.client.host if request.client else ""


TOO_MANY = Refused(
    429,
    "too-many-sign-ins",
    "Too many failed sign-ins from this computer. Wait 15 minutes, then try again, or ask your "
    "data officer to check your login.",
    "ការចូលប្រើមិនបានសម្រេចច្រើនដងពេកពីកុំព្យូទ័រនេះ។ សូមរង់ចាំ ១៥ នាទី ហើយព្យាយាមម្ដងទៀត "
    "ឬសុំមន្ត្រីទិន្នន័យរបស់អ្នកពិនិត្យឈ្មោះអ្នកប្រើរបស់អ្នក។",
)


async def sign_in(
    portal: Portal, failures: Failures, request: Request, login: str, password: str
) -> tuple[Account | None, str]:
    """Check a login and password; a failure is answered late, and often ones are refused."""
    address = address_of(request)
    if failures.blocked(address):
        raise TOO_MANY
    account, why = await run_in_threadpool(portal.sign_in, login, password, address)
    if account is None:
        failures.add(address)
        await asyncio.sleep(FAILURE_DELAY_S)
    return account, why


async def account_of(
    portal: Portal, failures: Failures, request: Request, idle_seconds: int = IDLE_SECONDS
) -> Account:
    """The account behind a request (HTTP Basic, else the session), or SignInNeeded."""
    header = request.headers.get("authorization", "")
    if header[:6].lower() == "basic ":
        login, password = _basic(header[6:])
        account, why = await sign_in(portal, failures, request, login, password)
        if account is None:
            raise Refused(
                401,
                "wrong-login" if why != "locked" else "account-locked",
                "The login or password is wrong, or the account is locked or disabled.",
                "ឈ្មោះអ្នកប្រើ ឬពាក្យសម្ងាត់មិនត្រឹមត្រូវ ឬគណនីត្រូវបានចាក់សោ ឬបិទ។",
            )
        request.state.basic = True
        return account
    request.state.basic = False
    login = str(request.session.get("login") or "")
    if not login:
        raise SignInNeeded()
    now = int(time.time())
    if now - int(request.session.get("seen", 0)) > idle_seconds:
        request.session.clear()
        raise SignInNeeded(expired=True)
    account = await run_in_threadpool(portal.accounts.get, login)
    if account is None or account.disabled:
        request.session.clear()
        raise SignInNeeded()
    request.session["seen"] = now
    return account


def _basic(encoded: str) -> tuple[str, str]:
    try:
        text = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        text = ""
    login, _, password = text.partition(":")
    return login, password


def start_session(request: Request, account: Account) -> None:
    """A fresh session for a signed-in account (never the one from before signing in)."""
    request.session.clear()
    request.session.update(
        {"login": account.login, "csrf": secrets.token_urlsafe(32), "seen": int(time.time())}
    )


def csrf_token(request: Request) -> str:
    """The session's CSRF token, made on first use."""
    token = str(request.session.get("csrf") or "")
    if not token:
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


EXPIRED = Refused(
    403,
    "session-expired",
    "Your session has ended, so this form was not accepted and nothing was changed. "
    "Sign in again and repeat what you were doing.",
    "វគ្គប្រើប្រាស់របស់អ្នកបានបញ្ចប់ ដូច្នេះទម្រង់នេះមិនត្រូវបានទទួលយក ហើយគ្មានអ្វីត្រូវបានផ្លាស់ប្ដូរទេ។ "
    "សូមចូលប្រើម្ដងទៀត ហើយធ្វើម្ដងទៀត។",
)
FORGED = Refused(
    403,
    "forged-form",
    "This form did not come from this portal's own page, so it was refused and nothing was "
    "changed. Open the portal's page again and use the form there.",
    "ទម្រង់នេះមិនបានមកពីទំព័ររបស់វិបផតថលនេះទេ ដូច្នេះត្រូវបានបដិសេធ ហើយគ្មានអ្វីត្រូវបានផ្លាស់ប្ដូរទេ។ "
    "សូមបើកទំព័រវិបផតថលម្ដងទៀត ហើយប្រើទម្រង់នៅទីនោះ។",
)


def check_csrf(request: Request, form: FormData | dict[str, Any]) -> None:
    """Refuse a form without this session's token (scripts using HTTP Basic need none)."""
    if getattr(request.state, "basic", False):
        return
    expected = request.session.get("csrf")
    given = form.get("csrf")
    if not expected:
        raise EXPIRED
    if not isinstance(given, str) or not hmac.compare_digest(given, str(expected)):
        raise FORGED
