"""Storage: the relational store (SQLAlchemy Core, Alembic) and the single-use spend sets."""

from __future__ import annotations


class StoreUnavailable(Exception):
    """The backing store could not answer; callers fail closed."""


class SpendRefused(StoreUnavailable):
    """The spend set lost its memory after this key was issued (Redis restarted empty), so
    it cannot tell whether the key was used: refused for good. Callers that know it answer
    as for an expired token or challenge; callers that do not still fail closed."""
