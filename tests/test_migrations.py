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
