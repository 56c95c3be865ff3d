"""The portal's accounts, the uploads it received, and its access log, kept in the store.

Passwords are kept only as argon2 hashes. A sign-in that fails counts against the account; after
``LOCK_AFTER`` failures in a row the account refuses every password for ``LOCK_FOR``, so that
guessing is slow even from many machines. Every sign-in, upload and download is written to the
access log, whatever its outcome.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Row, insert, select, update

from cpxl.errors import UsageError
from cpxl.store import schema
from cpxl.store.store import Store

ROLES: Final = ("sender", "officer", "national")
LOCK_AFTER: Final = 5
LOCK_FOR: Final = timedelta(minutes=15)
LOGIN_PATTERN: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{1,63}$")
_HASHER: Final = PasswordHasher()


class AccountError(UsageError):
    """An account cannot be made or changed as asked (bad login, role, unknown login)."""


@dataclass(frozen=True, slots=True)
class Account:
    """Who may sign in, and what they may see."""

    login: str
    role: str
    ministry: str  # a sender's ministry; "" for officers and the national team
    disabled: bool = False

    def sees(self, ministry: str) -> bool:
        """Whether this account may see a ministry's files, feedback and figures."""
        return self.role != "sender" or (bool(ministry) and ministry == self.ministry)

    def to_dict(self) -> dict[str, Any]:
        """The machine shape of ``cpxl users list --json``."""
        return {
            "login": self.login,
            "role": self.role,
            "ministry": self.ministry or None,
            "disabled": self.disabled,
        }


@dataclass(frozen=True, slots=True)
class Upload:
    """A file received through the portal, and what the intake made of it."""

    id: str
    login: str
    ministry: str
    name_sent: str
    inbox_name: str
    received_at: datetime
    status: str = ""
    period: str = ""
    feedback: str = ""  # relative to the workspace
    result: Mapping[str, Any] | None = None


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(when: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes for what was written in UTC.
    return when.replace(tzinfo=UTC) if when is not None and when.tzinfo is None else when


class Accounts:
    """Accounts, uploads and the access log of one store."""

    def __init__(self, store: Store) -> None:
        self._store = store
        _dummy_hash()  # made now, so that even the first unknown login takes as long

    # --- accounts ------------------------------------------------------------------------------

    def add(self, login: str, password: str, role: str, ministry: str = "") -> Account:
        """Create an account; a sender needs a ministry, the other roles have none."""
        if not LOGIN_PATTERN.match(login):
            raise AccountError(
                f"{login!r} cannot be a login: use 2 to 64 letters, digits, '.', '_', '-' or '@'."
            )
        if role not in ROLES:
            raise AccountError(f"{role!r} is not a role; use one of {', '.join(ROLES)}.")
        if (role == "sender") != bool(ministry):
            raise AccountError("A sender needs --ministry; officers and national users have none.")
        if len(password) < 8:
            raise AccountError("The password must have at least 8 characters.")
        if self.get(login) is not None:
            raise AccountError(f"The login {login!r} exists already; nothing was changed.")
        with self._store._write(count=False) as conn:
            conn.execute(
                insert(schema.users).values(
                    login=login,
                    password_hash=_HASHER.hash(password),
                    role=role,
                    ministry=ministry,
                    disabled=False,
                    failures=0,
                    created_at=_now(),
                )
            )
        return Account(login, role, ministry)

    def get(self, login: str) -> Account | None:
        """The account of a login, or None."""
        u = schema.users
        with self._store._reading() as conn:
            row = conn.execute(select(u).where(u.c.login == login)).first()
        return None if row is None else _account(row)

    def all(self) -> tuple[Account, ...]:
        """Every account, by login."""
        u = schema.users
        with self._store._reading() as conn:
            return tuple(_account(r) for r in conn.execute(select(u).order_by(u.c.login)))

    def disable(self, login: str) -> Account:
        """Stop an account from signing in (its history stays)."""
        if self.get(login) is None:
            raise AccountError(f"There is no login {login!r}.")
        with self._store._write(count=False) as conn:
            conn.execute(
                update(schema.users).where(schema.users.c.login == login).values(disabled=True)
            )
        found = self.get(login)
        assert found is not None
        return found

    def verify(self, login: str, password: str) -> tuple[Account | None, str]:
        """The account if the password is right, else None and why ("wrong", "locked", ...)."""
        u = schema.users
        with self._store._reading() as conn:
            row = conn.execute(select(u).where(u.c.login == login)).first()
        if row is None:
            _check(_dummy_hash(), password)
            return None, "wrong"
        locked = _aware(row.locked_until)
        if locked is not None and locked > _now():
            return None, "locked"
        right = _check(str(row.password_hash), password)
        with self._store._write(count=False) as conn:
            if right:
                conn.execute(
                    update(u).where(u.c.login == login).values(failures=0, locked_until=None)
                )
            else:
                failures = int(row.failures) + 1
                until = _now() + LOCK_FOR if failures >= LOCK_AFTER else None
                conn.execute(
                    update(u)
                    .where(u.c.login == login)
                    .values(failures=0 if until else failures, locked_until=until)
                )
        if not right:
            return None, "wrong"
        if row.disabled:
            return None, "disabled"
        return _account(row), "ok"

    # --- the access log ------------------------------------------------------------------------

    def log(
        self, login: str, action: str, target: str = "", outcome: str = "", address: str = ""
    ) -> None:
        """Write one line of the access log."""
        with self._store._write(count=False) as conn:
            conn.execute(
                insert(schema.access_log).values(
                    at=_now(),
                    login=login[:64],
                    action=action,
                    target=target[:500],
                    outcome=outcome[:200],
                    address=address[:64],
                )
            )

    def access_log(self, limit: int = 1000) -> tuple[dict[str, Any], ...]:
        """The latest lines of the access log, newest first."""
        a = schema.access_log
        query = select(a).order_by(a.c.id.desc()).limit(limit)
        with self._store._reading() as conn:
            return tuple(
                {
                    "at": _aware(r.at),
                    "login": r.login,
                    "action": r.action,
                    "target": r.target,
                    "outcome": r.outcome,
                    "address": r.address,
                }
                for r in conn.execute(query)
            )

    # --- uploads -------------------------------------------------------------------------------

    def add_upload(self, upload: Upload) -> None:
        """Record that a file was received, before the intake looks at it."""
        with self._store._write(count=False) as conn:
            conn.execute(
                insert(schema.uploads).values(
                    id=upload.id,
                    login=upload.login,
                    ministry=upload.ministry,
                    name_sent=upload.name_sent,
                    inbox_name=upload.inbox_name,
                    received_at=upload.received_at,
                )
            )

    def finish_upload(
        self,
        upload_id: str,
        status: str,
        period: str,
        feedback: str,
        result: Mapping[str, Any],
        ministry: str,
    ) -> None:
        """Record what the intake made of an upload, and whose it is."""
        with self._store._write(count=False) as conn:
            conn.execute(
                update(schema.uploads)
                .where(schema.uploads.c.id == upload_id)
                .values(
                    status=status,
                    period=period,
                    feedback=feedback,
                    result=dict(result),
                    ministry=ministry,
                )
            )

    def upload(self, upload_id: str) -> Upload | None:
        """One upload by its id, or None."""
        up = schema.uploads
        with self._store._reading() as conn:
            row = conn.execute(select(up).where(up.c.id == upload_id)).first()
        return None if row is None else _upload(row)

    def uploads(self, ministry: str | None = None, limit: int = 200) -> tuple[Upload, ...]:
        """The latest uploads (of one ministry when given), newest first."""
        up = schema.uploads
        query = select(up).order_by(up.c.received_at.desc(), up.c.id).limit(limit)
        if ministry is not None:
            query = query.where(up.c.ministry == ministry)
        with self._store._reading() as conn:
            return tuple(_upload(r) for r in conn.execute(query))


@functools.cache
def _dummy_hash() -> str:
    """Checked against when the login is unknown, so that a wrong login costs as long as a
    wrong password and the answer's timing does not tell which logins exist. Made when
    accounts are first used, not on import: hashing takes a tenth of a second and 64 MiB,
    which every command would pay."""
    return _HASHER.hash("not a password of anyone")


def _check(hashed: str, password: str) -> bool:
    try:
        return _HASHER.verify(hashed, password)
    except (VerificationError, InvalidHashError):
        return False


def _account(row: Row[Any]) -> Account:
    return Account(str(row.login), str(row.role), str(row.ministry), bool(row.disabled))


def _upload(row: Row[Any]) -> Upload:
    received = _aware(row.received_at)
    assert received is not None
    return Upload(
        str(row.id),
        str(row.login),
        str(row.ministry),
        str(row.name_sent),
        str(row.inbox_name),
        received,
        str(row.status),
        str(row.period),
        str(row.feedback),
        row.result,
    )
