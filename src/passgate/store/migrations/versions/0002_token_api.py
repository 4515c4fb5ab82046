"""Token API: API keys, grants, rate buckets, call records and durable jobs.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("revoked_at", sa.Float, nullable=True),
    )
    op.create_table(
        "grants",
        sa.Column("key_id", sa.Integer, primary_key=True),
        sa.Column("sitekey", sa.String(64), primary_key=True),
        sa.Column("rate_per_min", sa.Float, nullable=False),
        sa.Column("burst", sa.Integer, nullable=False),
        sa.Column("expires_at", sa.Float, nullable=True),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_table(
        "rate_buckets",
        sa.Column("bucket", sa.String(200), primary_key=True),
        sa.Column("tokens", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.Column("full_at", sa.Float, nullable=False),
    )
    op.create_index("ix_rate_buckets_full_at", "rate_buckets", ["full_at"])
    op.create_table(
        "token_records",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("key_id", sa.Integer, nullable=True),
        sa.Column("key_name", sa.String(64), nullable=True),
        sa.Column("sitekey", sa.String(64), nullable=True),
        sa.Column("referer_host", sa.String(253), nullable=True),
        sa.Column("developer_id", sa.String(200), nullable=True),
        sa.Column("domain", sa.String(253), nullable=True),
        sa.Column("region", sa.String(64), nullable=True),
        sa.Column("proxy_ip", sa.String(64), nullable=True),
        sa.Column("job_id", sa.BigInteger, nullable=True),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("http_status", sa.Integer, nullable=False),
        sa.Column("token_id", sa.String(32), nullable=True),
        sa.Column("cost_ms", sa.Float, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_index("ix_token_records_created_at", "token_records", ["created_at"])
    op.create_index("ix_token_records_key", "token_records", ["key_name", "created_at"])
    op.create_index("ix_token_records_site", "token_records", ["sitekey", "created_at"])
    op.create_table(
        "token_jobs",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("key_id", sa.Integer, nullable=False),
        sa.Column("record_id", sa.String(32), nullable=False),
        sa.Column("sitekey", sa.String(64), nullable=False),
        sa.Column("hostname", sa.String(253), nullable=False),
        sa.Column("rqdata", sa.Text, nullable=True),
        sa.Column("bound_ip", sa.String(64), nullable=True),
        sa.Column("invisible", sa.Boolean, nullable=False),
        sa.Column("need_ekey", sa.Boolean, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("result", sa.Text, nullable=False, server_default=""),
        sa.Column("ekey", sa.String(64), nullable=True),
        sa.Column("outcome", sa.String(32), nullable=True),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("deadline_at", sa.Float, nullable=False),
        sa.Column("next_attempt_at", sa.Float, nullable=False),
        sa.Column("claimed_until", sa.Float, nullable=True),
        sa.Column("finished_at", sa.Float, nullable=True),
    )
    op.create_index("ix_token_jobs_created_at", "token_jobs", ["created_at"])
    op.create_index("ix_token_jobs_due", "token_jobs", ["status", "next_attempt_at"])


def downgrade() -> None:
    for name in ("token_jobs", "token_records", "rate_buckets", "grants", "api_keys"):
        op.drop_table(name)
