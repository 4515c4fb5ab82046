"""Storage: the relational store (SQLAlchemy Core, Alembic) and the single-use spend sets."""

from __future__ import annotations


class StoreUnavailable(Exception):
    """The backing store could not answer; callers fail closed."""
