"""The three doors' one set of rules: every change made through the CLI, the admin HTTP API
or the console goes through a Manager, which makes it with the registries' own checks and
errors and writes its entry in the audit log (passgate.audit). Reading needs no Manager."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from passgate import algorithms, keys
from passgate.audit import AuditLog
from passgate.console.accounts import User, UserRegistry
from passgate.settings import Config
from passgate.sites import Site, SiteError, SiteRegistry
from passgate.tokenapi.admintoken import new_admin_token
from passgate.tokenapi.apikeys import ApiKey, ApiKeyRegistry
from passgate.tokenapi.grants import Grant, GrantRegistry


def site_defaults(config: Config, algorithm: str | None = None) -> dict[str, Any]:
    """What a new site gets where its maker names nothing: the algorithm (the configured
    default), its base difficulty and the token lifetime. Raises SiteError."""
    try:
        alg = algorithms.get(algorithm or config.default_algorithm)
    except algorithms.UnknownAlgorithm as exc:
        raise SiteError(str(exc)) from None
    base = config.default_difficulty if alg.name == algorithms.SHA256 else alg.default_difficulty
    return {"algorithm": alg.name, "difficulty": base, "token_lifetime": config.token_lifetime}


class Manager:
    """Changes on behalf of `actor` ("cli", "admin-api" or "user:NAME") from `ip`. `master`
    is needed only to rotate signing keys. Errors are the registries' own: SiteError,
    ApiKeyError, GrantError, AccountError, keys.MasterKeyError."""

    def __init__(
        self, engine: sa.Engine, master: bytes | None, actor: str, ip: str | None = None
    ) -> None:
        self.engine = engine
        self.master = master
        self.actor = actor
        self.ip = ip
        self.sites = SiteRegistry(engine)
        self.keys = ApiKeyRegistry(engine)
        self.grants = GrantRegistry(engine)
        self.users = UserRegistry(engine)
        self.audit = AuditLog(engine)

    def _log(self, action: str, target: str = "", **detail: object) -> None:
        self.audit.add(self.actor, action, target, detail, self.ip)

    # sites

    def add_site(self, hostnames: list[str], **options: Any) -> tuple[Site, str]:
        """A new site and its secret (shown once; only its hash is kept)."""
        site, secret = self.sites.add(hostnames, **options)
        settings = site.public()
        del settings["sitekey"]
        self._log("site.add", site.sitekey, **settings)
        return site, secret

    def update_site(self, sitekey: str, **changes: Any) -> Site:
        """SiteRegistry.update's keywords; None leaves a setting as it is."""
        site = self.sites.update(sitekey, **changes)
        self._log("site.update", sitekey, **{k: v for k, v in changes.items() if v is not None})
        return site

    def rotate_secret(self, sitekey: str) -> tuple[Site, str]:
        site, secret = self.sites.rotate_secret(sitekey)
        self._log("site.rotate_secret", sitekey)
        return site, secret

    def remove_site(self, sitekey: str) -> None:
        self.sites.remove(sitekey)
        self._log("site.remove", sitekey)

    # token-API keys and grants

    def add_key(self, name: str) -> tuple[ApiKey, str]:
        """A new API key and its token (shown once; only its hash is kept)."""
        key, token = self.keys.add(name)
        self._log("key.add", name)
        return key, token

    def revoke_key(self, name: str) -> ApiKey:
        key = self.keys.revoke(name)
        self._log("key.revoke", name)
        return key

    def put_grant(
        self,
        key_name: str,
        sitekey: str,
        rate_per_min: float,
        burst: int,
        expires_at: float | None,
    ) -> Grant:
        grant = self.grants.put(key_name, sitekey, rate_per_min, burst, expires_at)
        self._log(
            "grant.put",
            key_name,
            sitekey=sitekey,
            rate_per_min=grant.rate_per_min,
            burst=grant.burst,
            expires_at=grant.expires_at,
        )
        return grant

    def remove_grant(self, key_name: str, sitekey: str) -> None:
        self.grants.remove(key_name, sitekey)
        self._log("grant.remove", key_name, sitekey=sitekey)

    # signing keys and the admin token

    def rotate_signing_key(self) -> str:
        """Sign with a new key from now; returns its id."""
        if self.master is None:
            raise keys.MasterKeyError("rotating the signing keys needs the master key")
        kid = keys.rotate(self.engine, self.master)
        self._log("signing_key.rotate", kid)
        return kid

    def new_admin_token(self) -> str:
        """A new admin API token, replacing the old one (shown once)."""
        token = new_admin_token(self.engine)
        self._log("admin_token.new")
        return token

    # the console's users

    def add_user(self, name: str, password: str, role: str) -> User:
        user = self.users.add(name, password, role)
        self._log("user.add", name, role=role)
        return user

    def remove_user(self, name: str) -> None:
        self.users.remove(name)
        self._log("user.remove", name)

    def set_password(self, name: str, password: str) -> None:
        self.users.set_password(name, password)
        self._log("user.passwd", name)

    def set_role(self, name: str, role: str) -> None:
        self.users.set_role(name, role)
        self._log("user.role", name, role=role)
