"""Alembic migrations on PostgreSQL: a store of the previous release (0003) upgrades to
abuse resistance (0004) in place, as on SQLite (tests/test_migrations.py); and so on to the
console (0007), siteverify idempotency (0008, tests/test_idempotency_store.py) and the
bindings a token job keeps (0009)."""

from __future__ import annotations

import pytest

from passgate.store.db import make_engine
from tests.test_migrations import check_abuse_upgrade, upgrade_0003_store_with_a_site

from .conftest import Stores

pytestmark = [pytest.mark.multinode, pytest.mark.slow]


def test_abuse_migration_from_the_previous_schema(stores: Stores) -> None:
    engine = make_engine(stores.pg.create_database("passgate_migrate_0004"))
    try:
        upgrade_0003_store_with_a_site(engine)
        check_abuse_upgrade(engine)
    finally:
        engine.dispose()


def test_console_migration_from_the_previous_schema(stores: Stores) -> None:
    from tests.test_migrations import check_console_upgrade

    engine = make_engine(stores.pg.create_database("passgate_migrate_0007"))
    try:
        upgrade_0003_store_with_a_site(engine)
        check_console_upgrade(engine)
    finally:
        engine.dispose()


def test_idempotency_migration_from_the_previous_schema(stores: Stores) -> None:
    from tests.test_idempotency_store import check_idempotency_upgrade

    engine = make_engine(stores.pg.create_database("passgate_migrate_0008"))
    try:
        upgrade_0003_store_with_a_site(engine)
        check_idempotency_upgrade(engine)
    finally:
        engine.dispose()


def test_job_bindings_migration_from_the_previous_schema(stores: Stores) -> None:
    from tests.test_migrations import check_job_bindings_upgrade

    engine = make_engine(stores.pg.create_database("passgate_migrate_0009"))
    try:
        upgrade_0003_store_with_a_site(engine)
        check_job_bindings_upgrade(engine)
    finally:
        engine.dispose()
