"""Alembic migrations: an older store upgrades in place and keeps what it held."""

import sqlalchemy as sa
from alembic import command
from alembic.config import Config as AlembicConfig

from passgate.store.db import MIGRATIONS, make_engine, migrate


def upgrade_to(engine: sa.Engine, revision: str) -> None:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", MIGRATIONS)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def test_spent_keys_survive_the_move_to_expiry_order(tmp_path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    upgrade_to(engine, "0002")
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO spent (key, expires_at) VALUES ('t:aa', 100.0), ('t:bb', 200.0)"
        )
    migrate(engine)
    with engine.begin() as conn:
        rows = conn.exec_driver_sql("SELECT key, expires_at FROM spent ORDER BY key").all()
        assert rows == [("t:aa", 100.0), ("t:bb", 200.0)]
        again = conn.exec_driver_sql(
            "INSERT OR IGNORE INTO spent (key, expires_at) VALUES ('t:aa', 100.0)"
        )
        assert again.rowcount == 0  # still spent
        ddl = conn.exec_driver_sql("SELECT sql FROM sqlite_master WHERE name = 'spent'").scalar()
        assert "WITHOUT ROWID" in ddl


def upgrade_0003_store_with_a_site(engine: sa.Engine) -> None:
    """A store as the previous release left it (0003), holding one site."""
    upgrade_to(engine, "0003")
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO sites (sitekey, name, secret_hash, hostnames, difficulty, "
            "token_lifetime, require_remoteip, bind_ip, created_at) VALUES "
            "('11111111-2222-3333-4444-555555555555', 'old', 'h', '[\"shop.example\"]', "
            "250000, 120, false, false, 1.0)"
        )


def check_abuse_upgrade(engine: sa.Engine) -> None:
    """After 0004: the old site keeps adaptation off with the default settings; a site added
    now has it on; the counters table takes 64-bit keys."""
    from passgate.abuse.counters import key_int
    from passgate.sites import SiteRegistry

    migrate(engine)
    registry = SiteRegistry(engine)
    old = registry.require("11111111-2222-3333-4444-555555555555")
    assert old.adaptive is False and old.max_difficulty is None
    assert (old.prefix_v4, old.prefix_v6, old.allowlist) == (24, 48, ())
    assert old.difficulty == 250_000 and old.hostnames == ("shop.example",)
    assert old.algorithm == "sha256" and old.fallback is None  # 0005: challenges unchanged
    new, _ = registry.add(["new.example"])
    assert registry.require(new.sitekey).adaptive is True
    with engine.begin() as conn:
        for key in ("ffffffffffffffff", "8000000000000000", "7fffffffffffffff"):
            conn.exec_driver_sql(
                "INSERT INTO abuse_counters (key, solved, issued, at) VALUES "
                f"({key_int(key)}, 1.5, 2.0, 10.0)"
            )
        assert conn.exec_driver_sql("SELECT count(*) FROM abuse_counters").scalar() == 3


def test_sites_of_the_previous_release_keep_adaptation_off(tmp_path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    upgrade_0003_store_with_a_site(engine)
    check_abuse_upgrade(engine)
    with engine.begin() as conn:
        ddl = conn.exec_driver_sql(
            "SELECT sql FROM sqlite_master WHERE name = 'abuse_counters'"
        ).scalar()
    assert '"key" INTEGER NOT NULL' in ddl or "key INTEGER NOT NULL" in ddl  # the rowid


def test_the_counters_tables_arrive_on_a_store_of_the_previous_release(tmp_path) -> None:
    from passgate.store import stats as store

    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    upgrade_0003_store_with_a_site(engine)
    upgrade_to(engine, "0005")
    migrate(engine)
    store.flush(engine, {(60, "A", "issued", "1x"): 2})
    store.flush(engine, {(60, "A", "issued", "1x"): 3})
    assert sum(r.n for r in store.read(engine, 0, 120)) == 5
    from passgate.sites import SiteRegistry

    assert SiteRegistry(engine).require("11111111-2222-3333-4444-555555555555").name == "old"


def check_console_upgrade(engine: sa.Engine) -> None:
    """From 0006: the accounts, sessions and audit tables arrive empty (no default account),
    and what the store held is still there."""
    from passgate.audit import AuditLog
    from passgate.console.accounts import UserRegistry
    from passgate.console.sessions import SessionStore
    from passgate.sites import SiteRegistry

    upgrade_to(engine, "0006")
    migrate(engine)
    users = UserRegistry(engine)
    assert users.list() == []
    users.add("root", "a long enough password", "owner")
    cookie, _session = SessionStore(engine).create(users.list()[0].id, 100.0)
    assert SessionStore(engine).get(cookie, 101.0) is not None
    AuditLog(engine).add("cli", "user.add", "root")
    assert [e.action for e in AuditLog(engine).list()] == ["user.add"]
    assert SiteRegistry(engine).require("11111111-2222-3333-4444-555555555555").name == "old"


def test_the_console_tables_arrive_on_a_store_of_the_previous_release(tmp_path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    upgrade_0003_store_with_a_site(engine)
    check_console_upgrade(engine)


def check_job_bindings_upgrade(engine: sa.Engine) -> None:
    """From 0008: a job stored before it (waiting on its grant's rate) keeps everything and
    binds nothing; the job table takes an action and a cData; schema.py agrees."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from passgate.sites import SiteRegistry
    from passgate.store.schema import metadata
    from passgate.tokenapi.jobs import RUNNING, Job, JobStore
    from passgate.tokenapi.records import Record

    upgrade_to(engine, "0008")
    assert "action" not in {c["name"] for c in sa.inspect(engine).get_columns("token_jobs")}
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO token_jobs (id, key_id, record_id, sitekey, hostname, rqdata, bound_ip, "
            "invisible, need_ekey, status, result, created_at, deadline_at, next_attempt_at) "
            "VALUES (123456, 1, 'r1', '11111111-2222-3333-4444-555555555555', 'shop.example', "
            "'rq', '198.51.100.9', false, true, 'running', '', 10.0, 130.0, 20.0)"
        )
    migrate(engine)
    columns = {c["name"]: c for c in sa.inspect(engine).get_columns("token_jobs")}
    assert columns["action"]["nullable"] and columns["cdata"]["nullable"]
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert [d for d in diff if "token_jobs" in repr(d)] == []  # schema.py agrees
    store = JobStore(engine)
    old = store.get(123456)
    assert old is not None and (old.action, old.cdata) == (None, None)
    kept = (old.rqdata, old.bound_ip, old.need_ekey, old.status)
    assert kept == ("rq", "198.51.100.9", True, RUNNING)
    assert store.due(25.0) == [123456]  # still waiting for its attempt
    job = Job(0, 1, "r2", "11111111-2222-3333-4444-555555555555", "shop.example", 30.0,
              150.0, 30.0, action="signup/submit", cdata="c " + "\u00e9" * 200)  # fmt: skip
    made = store.create(job, Record("r2", "job", RUNNING, 200, 1.0, 30.0))
    again = store.get(made.id)
    assert again is not None and (again.action, again.cdata) == (job.action, job.cdata)
    assert SiteRegistry(engine).require("11111111-2222-3333-4444-555555555555").name == "old"


def test_jobs_keep_their_bindings_on_a_store_of_the_previous_release(tmp_path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    upgrade_0003_store_with_a_site(engine)
    check_job_bindings_upgrade(engine)
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", MIGRATIONS)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0008")
    columns = {c["name"] for c in sa.inspect(engine).get_columns("token_jobs")}
    assert "action" not in columns and "cdata" not in columns
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM token_jobs").scalar() == 2
