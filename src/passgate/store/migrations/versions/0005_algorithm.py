"""Hardware-fair proof of work: each site's algorithm and its opt-in SHA-256 fallback.

Sites that exist before this revision keep SHA-256 and no fallback (their challenges do not
change).

Revision ID: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sites") as batch:
        batch.add_column(
            sa.Column("algorithm", sa.String(16), nullable=False, server_default="sha256")
        )
        batch.add_column(sa.Column("fallback", sa.String(16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sites") as batch:
        batch.drop_column("fallback")
        batch.drop_column("algorithm")
