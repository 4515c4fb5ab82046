"""Observability: per-minute counters, their hourly roll-ups (passgate.stats).

Both tables are keyed by (bucket start, sitekey, metric, label), so that every process and
node adds its counts into the same row (`n = n + excluded.n`) and none overwrites another.

Revision ID: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def _table(name: str, bucket: str) -> None:
    op.create_table(
        name,
        sa.Column(bucket, sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("sitekey", sa.String(64), nullable=False),
        sa.Column("metric", sa.String(32), nullable=False),
        sa.Column("label", sa.String(128), nullable=False),
        sa.Column("n", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.PrimaryKeyConstraint(bucket, "sitekey", "metric", "label", name=f"pk_{name}"),
    )


def upgrade() -> None:
    _table("stats_minute", "minute")
    _table("stats_hour", "hour")


def downgrade() -> None:
    op.drop_table("stats_hour")
    op.drop_table("stats_minute")
