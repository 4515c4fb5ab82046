"""The token API for a site owner's own automation: API keys, per-site grants, rate limits,
the universal endpoint, durable jobs, call records, the admin API and the CLI.

Contract: docs/token-api.md. Modules import what they need; this package imports nothing,
so the service can hold a rate limiter without a cycle.
"""
