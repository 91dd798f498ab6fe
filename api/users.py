"""Staff accounts: users and their candidate groups, argon2 passwords, bearer tokens, and the
login rate limit with its trail (`auth_events`). The engine never sees these tables; it only
receives the `Actor` an account stands for."""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Engine as SqlEngine
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from engine import Actor

from .models import ApiToken, AuthEvent, User, UserGroup

GROUPS = frozenset(
    {
        "intake",
        "petition_office",
        "enforcement",
        "department_head",
        "leader",
        "reviewer",
        "re_reviewer",
        "inspection_team",
        "discipline",
        "opinion_unit",
        "admin",
        "designer",
    }
)
BUREAU_GROUP = re.compile(r"bureau:\d{6}")  # GB/T 2260 region code
USERNAME = re.compile(r"[a-z0-9][a-z0-9._@-]{0,99}")
MIN_PASSWORD = 12
MAX_PASSWORD = 1024  # argon2 hashes any length; a bound keeps a login request cheap

TOKEN_TTL = timedelta(hours=12)
MAX_FAILURES = 5
FAILURE_WINDOW = timedelta(minutes=15)
LAST_USED_RESOLUTION = timedelta(minutes=1)  # not one write per request


class AccountError(ValueError):
    """A refused account change; `field` names the input at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class LoginRefused(Exception):
    """Unknown user, inactive account or wrong password; the caller is not told which."""


class LoginThrottled(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many failed logins; retry in {retry_after} s")
        self.retry_after = retry_after


@dataclass(frozen=True)
class Account:
    username: str
    display_name: str
    is_admin: bool
    active: bool
    groups: tuple[str, ...]
    created_at: datetime

    def actor(self) -> Actor:
        return Actor(self.username, frozenset(self.groups), admin=self.is_admin)

    def in_any(self, groups: Iterable[str]) -> bool:
        return bool(set(self.groups).intersection(groups))


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_at: datetime
    account: Account


def normalize_username(name: str) -> str:
    return name.strip().lower()


def check_group(group: str) -> str:
    group = group.strip()
    if group in GROUPS or BUREAU_GROUP.fullmatch(group):
        return group
    known = ", ".join(sorted(GROUPS))
    raise AccountError("group", f"unknown group '{group}' (known: {known}, bureau:<region code>)")


def generate_password() -> str:
    return secrets.token_urlsafe(18)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Accounts:
    """The account store on the application's database (tables from migration 0003)."""

    def __init__(
        self,
        sql: SqlEngine,
        *,
        now: Callable[[], datetime] | None = None,
        hasher: PasswordHasher | None = None,
        token_ttl: timedelta = TOKEN_TTL,
        max_failures: int = MAX_FAILURES,
        failure_window: timedelta = FAILURE_WINDOW,
    ) -> None:
        self._sessions = sessionmaker(sql, expire_on_commit=False)
        self._now = now or (lambda: datetime.now(UTC))
        self._hasher = hasher or PasswordHasher()
        self._dummy_hash: str | None = None
        self.token_ttl = token_ttl
        self.max_failures = max_failures
        self.failure_window = failure_window

    @contextmanager
    def _transaction(self) -> Iterator[Session]:
        session = self._sessions()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    # ------------------------------------------------------------ users

    def add_user(
        self,
        username: str,
        groups: Iterable[str],
        *,
        password: str,
        display_name: str | None = None,
        admin: bool = False,
    ) -> Account:
        """`admin` and membership of the `admin` group go together: either gives both."""
        name = normalize_username(username)
        if not USERNAME.fullmatch(name):
            raise AccountError(
                "username", "1-100 characters: letters, digits and . _ @ -, starting alphanumeric"
            )
        wanted = {check_group(g) for g in groups}
        if admin:
            wanted.add("admin")
        if not wanted:
            raise AccountError("group", "at least one group is required")
        if len(password) < MIN_PASSWORD:
            raise AccountError("password", f"at least {MIN_PASSWORD} characters")
        if len(password) > MAX_PASSWORD:
            raise AccountError("password", f"at most {MAX_PASSWORD} characters")
        display = (display_name or name).strip()[:200] or name
        try:
            with self._transaction() as session:
                if session.scalar(select(User.id).where(User.username == name)) is not None:
                    raise AccountError("username", f"user '{name}' already exists")
                user = User(
                    username=name,
                    password_hash=self._hasher.hash(password),
                    display_name=display,
                    is_admin="admin" in wanted,
                    active=True,
                    created_at=self._now(),
                )
                session.add(user)
                session.flush()
                session.add_all(UserGroup(username=name, group=g) for g in sorted(wanted))
                session.flush()
                session.refresh(user)
                return _account(user)
        except IntegrityError:
            raise AccountError("username", f"user '{name}' already exists") from None

    def get(self, username: str) -> Account | None:
        with self._transaction() as session:
            user = session.scalar(select(User).where(User.username == normalize_username(username)))
            return _account(user) if user is not None else None

    # ------------------------------------------------------------ login and tokens

    def login(self, username: str, password: str, address: str | None) -> IssuedToken:
        """Check the password and issue a token. Failures per username and address are counted
        in `auth_events`; at `max_failures` within `failure_window` the password is not even
        checked until the oldest of them ages out. A success starts the count afresh."""
        name = normalize_username(username)[:100]
        address = (address or "")[:64] or None
        now = self._now()
        with self._transaction() as session:
            retry_after = self._throttled(session, name, address, now)
            if retry_after is not None:
                self._record(session, now, "login_throttled", name, address)
            user = session.scalar(select(User).where(User.username == name))
            stored = user.password_hash if user is not None and user.active else None
            reason = None if user is None or user.active else "inactive"
        if retry_after is not None:
            raise LoginThrottled(retry_after)

        # The hash is checked outside any transaction; unknown users cost the same time.
        ok, new_hash = self._verify(stored, password)
        if not ok:
            reason = reason or ("unknown_user" if user is None else "wrong_password")
            with self._transaction() as session:
                self._record(session, now, "login_failed", name, address, {"reason": reason})
            raise LoginRefused(reason)

        token = secrets.token_urlsafe(32)
        expires_at = now + self.token_ttl
        with self._transaction() as session:
            user = session.scalar(select(User).where(User.username == name))
            if user is None or not user.active:  # changed while the hash was being checked
                raise LoginRefused("inactive")
            if new_hash is not None:
                user.password_hash = new_hash
            session.execute(
                delete(ApiToken).where(ApiToken.username == name, ApiToken.expires_at <= now)
            )
            session.add(
                ApiToken(
                    token_hash=token_digest(token),
                    username=name,
                    created_at=now,
                    expires_at=expires_at,
                )
            )
            self._record(session, now, "login_succeeded", name, address)
            return IssuedToken(token, expires_at, _account(user))

    def _verify(self, stored: str | None, password: str) -> tuple[bool, str | None]:
        """(password right, new hash when the hasher's parameters changed since)."""
        if stored is None:
            # The same work as a real check, so timing does not tell which usernames exist.
            if self._dummy_hash is None:
                self._dummy_hash = self._hasher.hash(secrets.token_urlsafe(16))
            with suppress(VerificationError, InvalidHashError):
                self._hasher.verify(self._dummy_hash, password)
            return False, None
        try:
            self._hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return False, None
        rehash = self._hasher.hash(password) if self._hasher.check_needs_rehash(stored) else None
        return True, rehash

    def _throttled(
        self, session: Session, name: str, address: str | None, now: datetime
    ) -> int | None:
        """Seconds until another attempt is allowed, or None when one is allowed now."""
        since = now - self.failure_window
        same = (AuthEvent.username == name) & (
            AuthEvent.address.is_(None) if address is None else AuthEvent.address == address
        )
        last_success = session.scalar(
            select(func.max(AuthEvent.at)).where(same, AuthEvent.event == "login_succeeded")
        )
        if last_success is not None and last_success > since:
            since = last_success
        failures = list(
            session.scalars(
                select(AuthEvent.at)
                .where(same, AuthEvent.event == "login_failed", AuthEvent.at > since)
                .order_by(AuthEvent.at.desc())
                .limit(self.max_failures)
            )
        )
        if len(failures) < self.max_failures:
            return None
        free_at = failures[-1] + self.failure_window
        return max(1, int((free_at - now).total_seconds() + 0.999))

    def _record(
        self,
        session: Session,
        at: datetime,
        event: str,
        username: str,
        address: str | None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        session.add(
            AuthEvent(at=at, event=event, username=username, address=address, detail=detail)
        )

    def authenticate(self, token: str) -> Account | None:
        """The account a bearer token stands for, if the token is known, unexpired and its
        user still active. Groups are read afresh, so a changed membership applies at once."""
        if not token or len(token) > 200:
            return None
        now = self._now()
        with self._transaction() as session:
            row = session.scalar(select(ApiToken).where(ApiToken.token_hash == token_digest(token)))
            if row is None or row.expires_at <= now:
                return None
            user = session.scalar(select(User).where(User.username == row.username))
            if user is None or not user.active:
                return None
            if row.last_used_at is None or now - row.last_used_at >= LAST_USED_RESOLUTION:
                row.last_used_at = now
            return _account(user)

    def revoke(self, token: str) -> bool:
        with self._transaction() as session:
            result = session.execute(
                delete(ApiToken).where(ApiToken.token_hash == token_digest(token))
            )
            return result.rowcount == 1

    def auth_events(self, username: str | None = None) -> list[dict[str, Any]]:
        """The login trail, oldest first (for admins and tests)."""
        query = select(AuthEvent).order_by(AuthEvent.id)
        if username is not None:
            query = query.where(AuthEvent.username == normalize_username(username))
        with self._transaction() as session:
            return [
                {
                    "at": e.at,
                    "event": e.event,
                    "username": e.username,
                    "address": e.address,
                    "detail": e.detail,
                }
                for e in session.scalars(query)
            ]


def _account(user: User) -> Account:
    return Account(
        username=user.username,
        display_name=user.display_name,
        is_admin=user.is_admin,
        active=user.active,
        groups=tuple(sorted(g.group for g in user.groups)),
        created_at=user.created_at,
    )
