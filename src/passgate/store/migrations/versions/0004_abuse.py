"""Abuse resistance: per-site adaptation settings, and the decaying per-prefix counters.

Sites that exist before this revision keep adaptation off (their difficulty does not move);
sites added after it have it on (SiteRegistry.add). `max_difficulty` NULL means the default
cap; `allowlist` is a JSON list of CIDRs.

`abuse_counters` is keyed by the 64-bit keyed hash of a prefix (abuse.prefix): on SQLite an
INTEGER PRIMARY KEY, the rowid itself, so one B-tree holds it.

Revision ID: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sites") as batch:
        batch.add_column(
            sa.Column("adaptive", sa.Boolean, nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column("max_difficulty", sa.Integer, nullable=True))
        batch.add_column(sa.Column("prefix_v4", sa.Integer, nullable=False, server_default="24"))
        batch.add_column(sa.Column("prefix_v6", sa.Integer, nullable=False, server_default="48"))
        batch.add_column(sa.Column("allowlist", sa.Text, nullable=False, server_default="[]"))
    op.create_table(
        "abuse_counters",
        sa.Column(
            "key",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=False,
        ),
        sa.Column("solved", sa.Float, nullable=False),
        sa.Column("issued", sa.Float, nullable=False),
        sa.Column("at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("abuse_counters")
    with op.batch_alter_table("sites") as batch:
        for name in ("allowlist", "prefix_v6", "prefix_v4", "max_difficulty", "adaptive"):
            batch.drop_column(name)
