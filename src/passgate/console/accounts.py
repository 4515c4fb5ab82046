"""The console's accounts: users with a role, their passwords hashed with Argon2id
(argon2-cffi), made and changed from the CLI. Changing a user ends all their sessions."""

from __future__ import annotations

import functools
import re
import secrets
import time
from dataclasses import dataclass

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from passgate.store.schema import console_sessions, users

ROLES = ("owner", "viewer")
MIN_PASSWORD = 12
MAX_PASSWORD = 1024
NAME_RE = re.compile(r"[A-Za-z0-9_.@-]{1,64}")


class AccountError(ValueError):
    """A bad name, password or role, a name in use, or an unknown user; the message says
    which."""


@dataclass(frozen=True)
class User:
    id: int
    name: str
    role: str
    created_at: float
    changed_at: float

    @property
    def owner(self) -> bool:
        return self.role == "owner"

    def public(self) -> dict[str, object]:
        return {
            "name": self.name,
            "role": self.role,
            "created_at": self.created_at,
            "changed_at": self.changed_at,
        }


RESERVED = frozenset({"cli", "admin-api", "anonymous"})  # the audit log's other actors


def check_name(name: str) -> str:
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):
        raise AccountError("a user name is 1-64 characters of A-Z a-z 0-9 _ . @ -")
    if name.lower() in RESERVED:
        raise AccountError(f"{name!r} is reserved: the audit log names its own actors so")
    return name


def check_password(password: str) -> str:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        raise AccountError(f"the password must be at least {MIN_PASSWORD} characters")
    if not password.strip():
        raise AccountError("the password must not be only spaces")
    if len(password) > MAX_PASSWORD:
        raise AccountError(f"the password must be at most {MAX_PASSWORD} characters")
    return password


def check_role(role: str) -> str:
    if role not in ROLES:
        raise AccountError(f"a role is one of {', '.join(ROLES)}, not {role!r}")
    return role


@functools.lru_cache(maxsize=8)
def _dummy_hash(params: tuple[int, int, int, int, int]) -> str:
    """A hash of a random password under the hasher's parameters: an unknown user's
    password is checked against it, so that it takes as long as a wrong one."""
    time_cost, memory_cost, parallelism, hash_len, salt_len = params
    hasher = PasswordHasher(time_cost, memory_cost, parallelism, hash_len, salt_len)
    return hasher.hash(secrets.token_urlsafe(24))


def _user(m: sa.RowMapping) -> User:
    return User(m["id"], m["name"], m["role"], m["created_at"], m["changed_at"])


class UserRegistry:
    """Reads and writes the console's users in the relational store."""

    def __init__(self, engine: sa.Engine, hasher: PasswordHasher | None = None) -> None:
        self.engine = engine
        self.hasher = hasher or PasswordHasher()  # argon2-cffi's defaults: RFC 9106 Argon2id

    def _params(self) -> tuple[int, int, int, int, int]:
        h = self.hasher
        return (h.time_cost, h.memory_cost, h.parallelism, h.hash_len, h.salt_len)

    def add(self, name: str, password: str, role: str) -> User:
        check_name(name)
        check_role(role)
        digest = self.hasher.hash(check_password(password))
        now = time.time()
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    users.insert().values(
                        name=name, password_hash=digest, role=role, created_at=now, changed_at=now
                    )
                )
        except sa.exc.IntegrityError:
            raise AccountError(f"a user named {name} exists already") from None
        return self.require(name)

    def list(self) -> list[User]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(users).order_by(users.c.name)).all()
        return [_user(r._mapping) for r in rows]

    def get(self, name: str) -> User | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(users).where(users.c.name == name)).first()
        return _user(row._mapping) if row else None

    def by_id(self, user_id: int) -> User | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(users).where(users.c.id == user_id)).first()
        return _user(row._mapping) if row else None

    def require(self, name: str) -> User:
        user = self.get(name)
        if user is None:
            raise AccountError(f"unknown user {name}")
        return user

    def remove(self, name: str) -> None:
        """Remove a user and end their sessions."""
        user = self.require(name)
        with self.engine.begin() as conn:
            conn.execute(console_sessions.delete().where(console_sessions.c.user_id == user.id))
            conn.execute(users.delete().where(users.c.id == user.id))

    def set_password(self, name: str, password: str) -> None:
        """A new password; all the user's sessions end."""
        user = self.require(name)
        self._change(user, password_hash=self.hasher.hash(check_password(password)))

    def set_role(self, name: str, role: str) -> None:
        """A new role; all the user's sessions end."""
        user = self.require(name)
        self._change(user, role=check_role(role))

    def _change(self, user: User, **values: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                users.update().where(users.c.id == user.id).values(changed_at=time.time(), **values)
            )
            conn.execute(console_sessions.delete().where(console_sessions.c.user_id == user.id))

    def authenticate(self, name: str, password: str) -> User | None:
        """The user, when the password is theirs; else None. An unknown user's attempt is
        checked against a dummy hash, so that both fail in the same time."""
        dummy = _dummy_hash(self._params())  # made once, before either branch
        row = None
        if isinstance(name, str) and NAME_RE.fullmatch(name):
            with self.engine.connect() as conn:
                row = conn.execute(sa.select(users).where(users.c.name == name)).first()
        password = password if isinstance(password, str) else ""
        if row is None:
            try:
                self.hasher.verify(dummy, password)
            except VerificationError:
                pass
            return None
        m = row._mapping
        try:
            self.hasher.verify(m["password_hash"], password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return None
        if self.hasher.check_needs_rehash(m["password_hash"]):
            with self.engine.begin() as conn:
                conn.execute(
                    users.update()
                    .where(users.c.id == m["id"], users.c.password_hash == m["password_hash"])
                    .values(password_hash=self.hasher.hash(password))
                )
        return _user(m)
