"""The relational schema, as SQLAlchemy Core tables. Alembic migrations create it."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

sites = sa.Table(
    "sites",
    metadata,
    sa.Column("sitekey", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False, server_default=""),
    sa.Column("secret_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("hostnames", sa.Text, nullable=False),  # JSON list
    sa.Column("difficulty", sa.Integer, nullable=False),
    sa.Column("token_lifetime", sa.Integer, nullable=False),
    sa.Column("require_remoteip", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("bind_ip", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("created_at", sa.Float, nullable=False),
    # abuse resistance (migration 0004)
    sa.Column("adaptive", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("max_difficulty", sa.Integer, nullable=True),
    sa.Column("prefix_v4", sa.Integer, nullable=False, server_default="24"),
    sa.Column("prefix_v6", sa.Integer, nullable=False, server_default="48"),
    sa.Column("allowlist", sa.Text, nullable=False, server_default="[]"),  # JSON list of CIDRs
    # hardware-fair proof of work (migration 0005)
    sa.Column("algorithm", sa.String(16), nullable=False, server_default="sha256"),
    sa.Column("fallback", sa.String(16), nullable=True),  # "sha256" or none
)

signing_keys = sa.Table(
    "signing_keys",
    metadata,
    sa.Column("kid", sa.String(32), primary_key=True),
    sa.Column("ciphertext", sa.LargeBinary, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("retired_at", sa.Float, nullable=True),
)

spent = sa.Table(  # keyed by expiry first: inserts land together, pruning takes the old end
    "spent",
    metadata,
    sa.Column("expires_at", sa.Float, nullable=False),
    sa.Column("key", sa.String(64), nullable=False),
    sa.PrimaryKeyConstraint("expires_at", "key", name="pk_spent_by_expiry"),
    sqlite_with_rowid=False,
)

settings_kv = sa.Table(
    "meta",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

# The token API (migration 0002): API keys, grants, rate buckets, records and jobs.

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(64), nullable=False, unique=True),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("revoked_at", sa.Float, nullable=True),
)

grants = sa.Table(
    "grants",
    metadata,
    sa.Column("key_id", sa.Integer, primary_key=True),
    sa.Column("sitekey", sa.String(64), primary_key=True),
    sa.Column("rate_per_min", sa.Float, nullable=False),
    sa.Column("burst", sa.Integer, nullable=False),
    sa.Column("expires_at", sa.Float, nullable=True),
    sa.Column("created_at", sa.Float, nullable=False),
)

rate_buckets = sa.Table(
    "rate_buckets",
    metadata,
    sa.Column("bucket", sa.String(200), primary_key=True),
    sa.Column("tokens", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
    sa.Column("full_at", sa.Float, nullable=False, index=True),  # when it refills to burst
)

token_records = sa.Table(
    "token_records",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),  # "universal" or "job"
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
    sa.Column("created_at", sa.Float, nullable=False, index=True),
    sa.Index("ix_token_records_key", "key_name", "created_at"),
    sa.Index("ix_token_records_site", "sitekey", "created_at"),
)

token_jobs = sa.Table(
    "token_jobs",
    metadata,
    sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("key_id", sa.Integer, nullable=False),
    sa.Column("record_id", sa.String(32), nullable=False),
    sa.Column("sitekey", sa.String(64), nullable=False),
    sa.Column("hostname", sa.String(253), nullable=False),
    sa.Column("rqdata", sa.Text, nullable=True),
    sa.Column("bound_ip", sa.String(64), nullable=True),
    sa.Column("invisible", sa.Boolean, nullable=False),
    sa.Column("need_ekey", sa.Boolean, nullable=False),
    sa.Column("action", sa.String(100), nullable=True),  # bound into the token (0009)
    sa.Column("cdata", sa.Text, nullable=True),  # bound into the token (0009)
    sa.Column("status", sa.String(16), nullable=False),  # "running", "success", "fail"
    sa.Column("result", sa.Text, nullable=False, server_default=""),
    sa.Column("ekey", sa.String(64), nullable=True),
    sa.Column("outcome", sa.String(32), nullable=True),
    sa.Column("created_at", sa.Float, nullable=False, index=True),
    sa.Column("deadline_at", sa.Float, nullable=False),
    sa.Column("next_attempt_at", sa.Float, nullable=False),
    sa.Column("claimed_until", sa.Float, nullable=True),
    sa.Column("finished_at", sa.Float, nullable=True),
    sa.Index("ix_token_jobs_due", "status", "next_attempt_at"),
)

# Abuse resistance (migration 0004): decaying counts per keyed prefix hash (abuse.counters).

abuse_counters = sa.Table(
    "abuse_counters",
    metadata,
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

# Observability (migration 0006): counters per site per minute, rolled up into hours.


def _stats_table(name: str, bucket: str) -> sa.Table:
    return sa.Table(
        name,
        metadata,
        sa.Column(bucket, sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("sitekey", sa.String(64), nullable=False),  # "" when no site was known
        sa.Column("metric", sa.String(32), nullable=False),
        sa.Column("label", sa.String(128), nullable=False),
        sa.Column("n", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.PrimaryKeyConstraint(bucket, "sitekey", "metric", "label", name=f"pk_{name}"),
    )


stats_minute = _stats_table("stats_minute", "minute")  # unix seconds at the minute's start
stats_hour = _stats_table("stats_hour", "hour")  # unix seconds at the hour's start

# The console (migration 0007): accounts, sessions and the audit log.

users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(64), nullable=False, unique=True),
    sa.Column("password_hash", sa.String(255), nullable=False),  # Argon2id (argon2-cffi)
    sa.Column("role", sa.String(16), nullable=False),  # "owner" or "viewer"
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("changed_at", sa.Float, nullable=False),
)

console_sessions = sa.Table(
    "console_sessions",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),  # sha256 of the cookie's value
    sa.Column("user_id", sa.Integer, nullable=False, index=True),
    sa.Column("csrf", sa.String(64), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("seen_at", sa.Float, nullable=False),
    sa.Column("flash", sa.LargeBinary, nullable=True),  # a one-time message, encrypted
)

audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.Float, nullable=False, index=True),
    sa.Column("actor", sa.String(80), nullable=False),  # "cli", "admin-api", "user:NAME"
    sa.Column("action", sa.String(64), nullable=False),  # "site.add", "signin.failed", ...
    sa.Column("target", sa.String(200), nullable=False, server_default=""),
    sa.Column("detail", sa.Text, nullable=False, server_default="{}"),  # JSON, no secrets
    sa.Column("ip", sa.String(64), nullable=True),
)

# Turnstile's siteverify idempotency (migration 0008): the first answer per (key, token).

siteverify_idempotency = sa.Table(
    "siteverify_idempotency",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),  # sha256 of (idempotency key, token)
    sa.Column("sitekey", sa.String(64), nullable=True),
    sa.Column("result", sa.Text, nullable=False),  # the JSON answer as first given
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("expires_at", sa.Float, nullable=False, index=True),
)
