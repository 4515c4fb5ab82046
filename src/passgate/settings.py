"""Settings, declared once: name, type, default, help. Env vars, the TOML file and
`passgate config` all derive from the `SETTINGS` table below."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Setting:
    name: str
    type: type
    default: Any
    help: str
    secret: bool = False

    @property
    def env(self) -> str:
        return "PASSGATE_" + self.name.upper()


SETTINGS: tuple[Setting, ...] = (
    Setting("data_dir", str, "./data", "Directory for the embedded SQLite store and key file."),
    Setting(
        "database_url",
        str,
        "",
        "sqlite:///PATH or postgresql[+psycopg|+asyncpg]://...; empty means SQLite in data_dir.",
    ),
    Setting("redis_url", str, "", "Redis URL for hot shared state (replay sets, rate buckets)."),
    Setting(
        "master_key",
        str,
        "",
        "Key that encrypts signing keys; empty: a 0600 key file in data_dir.",
        secret=True,
    ),
    Setting("host", str, "127.0.0.1", "Address `serve` binds to."),
    Setting("port", int, 8000, "Port `serve` listens on."),
    Setting(
        "default_difficulty",
        int,
        120_000,
        "Expected hashes of a new SHA-256 site's challenge (other algorithms have their own).",
    ),
    Setting(
        "default_algorithm",
        str,
        "sha256",
        "Proof-of-work algorithm of new sites: sha256 or argon2id (docs/abuse.md).",
    ),
    Setting("challenge_lifetime", int, 300, "Seconds a challenge may take to be solved."),
    Setting(
        "token_lifetime", int, 120, "Seconds a pass token lives, unless the site sets its own."
    ),
    Setting("max_body_bytes", int, 16_384, "Largest request body accepted."),
    Setting(
        "trusted_proxies", str, "", "Comma-separated IPs or CIDRs whose X-Forwarded-For is trusted."
    ),
    Setting("record_retention_days", int, 30, "Days token-API records are kept."),
    Setting("job_deadline", int, 120, "Seconds a token-API job may wait before it fails."),
    Setting("log_level", str, "info", "Log level: debug, info, warning, error."),
    Setting("log_format", str, "text", "Log format: text, or json (one object per line)."),
    Setting("node_name", str, "", "This node's name in the logs; empty: the host name."),
    Setting(
        "abuse_max_prefixes",
        int,
        2_000_000,
        "Most network prefixes the abuse counters track at once (docs/abuse.md).",
    ),
    Setting(
        "console",
        str,
        "on",
        "The operator console under /console/ (docs/console.md): on or off.",
    ),
    Setting(
        "console_port",
        int,
        0,
        "Serve the console on its own listener at this port instead of under /console/ "
        "on the public port; 0: on the public port.",
    ),
    Setting("console_host", str, "127.0.0.1", "Address the console's own listener binds to."),
    Setting(
        "api_docs",
        str,
        "on",
        "The API reference page at /docs/api (docs: README): on or off.",
    ),
    Setting(
        "stats",
        str,
        "on",
        "Per-site counters kept in the store, for `passgate stats` and the console: on or off.",
    ),
    Setting(
        "stats_retention_days",
        int,
        90,
        "Days the hourly counters are kept (at least 30); minute rows are kept 2 days.",
    ),
    Setting("metrics_port", int, 0, "Port of the Prometheus /metrics listener; 0: off."),
    Setting("metrics_host", str, "127.0.0.1", "Address the /metrics listener binds to."),
    Setting(
        "metrics_max_sites",
        int,
        1000,
        "Most sites given their own metric series per process; the rest are `other`.",
    ),
    Setting(
        "metrics_dir",
        str,
        "",
        "Directory for prometheus-client's multiprocess mode, when several processes share "
        "a node's /metrics; the service manager empties it before the node starts.",
    ),
)

_BY_NAME = {s.name: s for s in SETTINGS}


@dataclass(frozen=True)
class Config:
    values: dict[str, Any] = field(default_factory=dict)

    def __getattr__(self, name: str) -> Any:
        try:
            return self.values[name]
        except KeyError:
            raise AttributeError(name) from None

    @property
    def data_path(self) -> Path:
        return Path(self.values["data_dir"]).expanduser()

    @property
    def effective_database_url(self) -> str:
        url: str = self.values["database_url"]
        return url or f"sqlite:///{(self.data_path / 'passgate.db').resolve()}"

    def with_(self, **changes: Any) -> Config:
        return Config({**self.values, **changes})

    def masked(self) -> dict[str, Any]:
        """The effective settings with every secret replaced by asterisks."""
        out: dict[str, Any] = {}
        for s in SETTINGS:
            v = self.values[s.name]
            out[s.name] = "********" if s.secret and v else _mask_url(v) if "url" in s.name else v
        return out


class SettingsError(ValueError):
    pass


def _mask_url(value: Any) -> Any:
    if isinstance(value, str) and "@" in value and "://" in value:
        scheme, rest = value.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        user = creds.split(":", 1)[0]
        return f"{scheme}://{user}:********@{host}"
    return value


def _coerce(setting: Setting, raw: Any, source: str) -> Any:
    if setting.type is int:
        if isinstance(raw, bool):
            raise SettingsError(f"{source}: {setting.name} must be an integer")
        try:
            return int(raw)
        except (TypeError, ValueError):
            raise SettingsError(
                f"{source}: {setting.name} must be an integer, got {raw!r}"
            ) from None
    return str(raw)


def load(
    env: dict[str, str] | None = None, toml_path: str | None = None, **overrides: Any
) -> Config:
    """Defaults, then the TOML file (`PASSGATE_CONFIG` or toml_path), then env, then overrides."""
    env = dict(os.environ) if env is None else env
    values = {s.name: s.default for s in SETTINGS}
    path = toml_path or env.get("PASSGATE_CONFIG")
    if path:
        try:
            data = tomllib.loads(Path(path).read_text())
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise SettingsError(f"cannot read config file {path}: {exc}") from None
        section = data.get("passgate", data)
        for key, raw in section.items():
            if key not in _BY_NAME:
                raise SettingsError(f"{path}: unknown setting {key!r}")
            values[key] = _coerce(_BY_NAME[key], raw, path)
    for s in SETTINGS:
        if s.env in env:
            values[s.name] = _coerce(s, env[s.env], s.env)
    for key, raw in overrides.items():
        if raw is not None:
            values[key] = _coerce(_BY_NAME[key], raw, "option")
    return Config(values)


def load_overrides(config: Config, **overrides: Any) -> Config:
    """`config` with the given settings replaced (None: kept), each coerced as declared.
    Raises SettingsError."""
    values = dict(config.values)
    for key, raw in overrides.items():
        if raw is not None:
            values[key] = _coerce(_BY_NAME[key], raw, "option")
    return Config(values)
