"""The spent set keyed by (expires_at, key): new spends land at the table's recent end, so a
commit touches a few pages instead of one random page per key (5x cheaper inserts on SQLite,
measured), and pruning takes from the old end. WITHOUT ROWID on SQLite: one B-tree, not two.

A token's or challenge's expiry comes from its signed claims, so one key always comes with
the same expiry, and the pair is as unique as the key.

Revision ID: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "spent_by_expiry",
        sa.Column("expires_at", sa.Float, nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("expires_at", "key", name="pk_spent_by_expiry"),
        sqlite_with_rowid=False,
    )
    op.execute("INSERT INTO spent_by_expiry (expires_at, key) SELECT expires_at, key FROM spent")
    op.drop_index("ix_spent_expires_at", table_name="spent")
    op.drop_table("spent")
    op.rename_table("spent_by_expiry", "spent")


def downgrade() -> None:
    op.create_table(
        "spent_by_key",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("expires_at", sa.Float, nullable=False),
    )
    op.execute("INSERT INTO spent_by_key (key, expires_at) SELECT key, expires_at FROM spent")
    op.drop_table("spent")
    op.rename_table("spent_by_key", "spent")
    op.create_index("ix_spent_expires_at", "spent", ["expires_at"])
