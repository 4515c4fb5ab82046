"""Abuse resistance: who pays how much (per-source difficulty) and what siteverify tells the
site (the risk score). See docs/abuse.md.

- `prefix`: a client address -> its network prefix and parent, as keyed hashes
- `difficulty`: the curve, decayed history -> difficulty (pure)
- `score`: signals -> score and reasons (pure)
- `counters`: where the history lives (SQLite here; PostgreSQL and Redis in store/)
- `policy`: the per-request decisions the widget endpoints make, over all of the above
"""
