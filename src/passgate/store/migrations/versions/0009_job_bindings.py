"""The action and cData a token job binds into its token (the universal call binds them at
once), kept with the job so that it mints with them after a restart too.

Jobs that exist before this revision bind neither (both columns are NULL).

Revision ID: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("token_jobs") as batch:
        batch.add_column(sa.Column("action", sa.String(100), nullable=True))
        batch.add_column(sa.Column("cdata", sa.Text, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("token_jobs") as batch:
        batch.drop_column("cdata")
        batch.drop_column("action")
