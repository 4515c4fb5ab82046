"""The console's accounts: Argon2id hashes, the rules for names, passwords and roles,
sign-in checks that take the same work for an unknown user, and changes that end sessions."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher

from passgate import settings
from passgate.console.accounts import MIN_PASSWORD, AccountError, UserRegistry
from passgate.console.sessions import SessionStore
from passgate.service import open_engine
from passgate.store.schema import users

PASSWORD = "correct horse battery"


class CountingHasher(PasswordHasher):
    """A cheap Argon2id hasher that records the hashes it verifies against."""

    def __init__(self, time_cost: int = 1) -> None:
        super().__init__(time_cost=time_cost, memory_cost=1024, parallelism=1)
        self.verified: list[str] = []

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:  # noqa: A002
        self.verified.append(hash if isinstance(hash, str) else hash.decode())
        return super().verify(hash, password)


@pytest.fixture
def engine(tmp_path: Path) -> sa.Engine:
    return open_engine(settings.load(env={}, data_dir=str(tmp_path / "data")))


@pytest.fixture
def hasher() -> CountingHasher:
    return CountingHasher()


@pytest.fixture
def registry(engine: sa.Engine, hasher: CountingHasher) -> UserRegistry:
    return UserRegistry(engine, hasher)


def stored_hash(engine: sa.Engine, name: str) -> str:
    with engine.connect() as conn:
        return str(
            conn.execute(sa.select(users.c.password_hash).where(users.c.name == name)).scalar_one()
        )


def test_passwords_are_stored_as_argon2id_hashes(engine: sa.Engine) -> None:
    registry = UserRegistry(engine)  # the real parameters
    user = registry.add("alice", PASSWORD, "owner")
    assert (user.name, user.role, user.owner) == ("alice", "owner", True)
    digest = stored_hash(engine, "alice")
    assert digest.startswith("$argon2id$v=19$") and PASSWORD not in digest
    assert registry.authenticate("alice", PASSWORD) == user
    assert registry.authenticate("alice", PASSWORD + "!") is None


@pytest.mark.parametrize(
    ("name", "password", "role", "message"),
    [
        ("alice", "x" * (MIN_PASSWORD - 1), "owner", "at least 12 characters"),
        ("alice", "x" * 2000, "owner", "at most 1024 characters"),
        ("alice", PASSWORD, "admin", "a role is one of owner, viewer"),
        ("al ice", PASSWORD, "owner", "a user name is 1-64 characters"),
        ("", PASSWORD, "owner", "a user name is 1-64 characters"),
        ("a" * 65, PASSWORD, "owner", "a user name is 1-64 characters"),
        ("alice\n", PASSWORD, "owner", "a user name is 1-64 characters"),
    ],
)
def test_bad_input_is_refused_clearly(
    registry: UserRegistry, name: str, password: str, role: str, message: str
) -> None:
    with pytest.raises(AccountError, match=message):
        registry.add(name, password, role)
    assert registry.list() == []


def test_a_password_of_exactly_the_minimum_is_enough(registry: UserRegistry) -> None:
    registry.add("ops@example.org", "x" * MIN_PASSWORD, "viewer")
    assert registry.authenticate("ops@example.org", "x" * MIN_PASSWORD) is not None


def test_names_are_unique(registry: UserRegistry) -> None:
    registry.add("alice", PASSWORD, "owner")
    with pytest.raises(AccountError, match="a user named alice exists already"):
        registry.add("alice", PASSWORD, "viewer")


def test_unknown_users_are_named_in_errors(registry: UserRegistry) -> None:
    for change in (
        lambda: registry.remove("nobody"),
        lambda: registry.set_password("nobody", PASSWORD),
        lambda: registry.set_role("nobody", "owner"),
    ):
        with pytest.raises(AccountError, match="unknown user nobody"):
            change()


def test_an_unknown_user_costs_one_hash_check_like_a_wrong_password(
    registry: UserRegistry, hasher: CountingHasher, engine: sa.Engine
) -> None:
    registry.add("alice", PASSWORD, "owner")
    real = stored_hash(engine, "alice")
    assert registry.authenticate("alice", "wrong password!") is None
    assert registry.authenticate("mallory", "wrong password!") is None
    assert registry.authenticate("not a valid name", "wrong password!") is None
    wrong, unknown, invalid = hasher.verified
    assert wrong == real
    assert unknown == invalid != real  # the dummy hash, with the same parameters
    assert unknown.split("$")[1:4] == real.split("$")[1:4]  # argon2id, v=19, m,t,p


def test_hashes_made_under_older_parameters_are_renewed_at_sign_in(engine: sa.Engine) -> None:
    UserRegistry(engine, CountingHasher(time_cost=1)).add("alice", PASSWORD, "owner")
    old = stored_hash(engine, "alice")
    stronger = UserRegistry(engine, CountingHasher(time_cost=2))
    assert stronger.authenticate("alice", "wrong password!") is None
    assert stored_hash(engine, "alice") == old  # only a right password renews it
    assert stronger.authenticate("alice", PASSWORD) is not None
    assert stored_hash(engine, "alice") != old and ",t=2," in stored_hash(engine, "alice")
    assert stronger.authenticate("alice", PASSWORD) is not None


def test_list_get_by_id(registry: UserRegistry) -> None:
    bob = registry.add("bob", PASSWORD, "viewer")
    alice = registry.add("alice", PASSWORD, "owner")
    assert [u.name for u in registry.list()] == ["alice", "bob"]
    assert registry.get("bob") == bob and registry.by_id(alice.id) == alice
    assert registry.get("carol") is None and registry.by_id(999) is None
    assert bob.owner is False
    assert set(bob.public()) == {"name", "role", "created_at", "changed_at"}


def test_changing_a_user_ends_their_sessions_only(
    registry: UserRegistry, engine: sa.Engine
) -> None:
    alice = registry.add("alice", PASSWORD, "owner")
    bob = registry.add("bob", PASSWORD, "owner")
    sessions = SessionStore(engine)
    kept, _ = sessions.create(bob.id, 100.0)
    for change in (
        lambda: registry.set_password("alice", "another long password"),
        lambda: registry.set_role("alice", "viewer"),
        lambda: registry.remove("alice"),
    ):
        cookie, _ = sessions.create(alice.id, 100.0)
        change()
        assert sessions.get(cookie, 101.0) is None
    assert sessions.get(kept, 101.0) is not None
    assert registry.get("alice") is None


def test_new_password_and_role_take_effect(registry: UserRegistry) -> None:
    registry.add("alice", PASSWORD, "owner")
    registry.set_password("alice", "another long password")
    assert registry.authenticate("alice", PASSWORD) is None
    assert registry.authenticate("alice", "another long password") is not None
    registry.set_role("alice", "viewer")
    user = registry.get("alice")
    assert user is not None and user.role == "viewer" and user.changed_at >= user.created_at
    with pytest.raises(AccountError, match="a role is one of"):
        registry.set_role("alice", "root")
    with pytest.raises(AccountError, match="at least 12"):
        registry.set_password("alice", "short")
