"""Turnstile's siteverify idempotency: the first answer given for (idempotency key, token),
kept until the token would have expired, shared by every process and node
(passgate.store.idempotency).

A row is keyed by a SHA-256 over the key and the token, never by either in clear: the token
is a credential.

Revision ID: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "siteverify_idempotency",
        sa.Column("id", sa.String(64), primary_key=True),  # sha256 of (idempotency key, token)
        sa.Column("sitekey", sa.String(64), nullable=True),
        sa.Column("result", sa.Text, nullable=False),  # the JSON answer as first given
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False, index=True),
    )


def downgrade() -> None:
    op.drop_table("siteverify_idempotency")
