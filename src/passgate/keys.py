"""Signing keys: the master key, keys encrypted under it in the store, and rotation."""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import secrets
import time
from pathlib import Path

import sqlalchemy as sa
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from passgate.settings import Config
from passgate.signing import KeyRing
from passgate.store.schema import signing_keys

RETIRED_KEYS_KEPT = 86_400  # seconds a retired key still verifies; longer than any token


class MasterKeyError(Exception):
    pass


def master_key(config: Config) -> bytes:
    """PASSGATE_MASTER_KEY if set, else a 0600 key file in the data directory."""
    if config.master_key:
        return _key_from_text(config.master_key)
    path = config.data_path / "master.key"
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _key_from_text(Path(path).read_text().strip())
    with os.fdopen(fd, "w") as f:
        f.write(base64.urlsafe_b64encode(secrets.token_bytes(32)).decode() + "\n")
    return _key_from_text(path.read_text().strip())


def _key_from_text(text: str) -> bytes:
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        if len(raw) == 32:
            return raw
    except (binascii.Error, ValueError):
        pass
    if len(text) < 16:
        raise MasterKeyError("the master key must be at least 16 characters")
    return hashlib.sha256(text.encode()).digest()


def _encrypt(master: bytes, kid: str, key: bytes) -> bytes:
    nonce = secrets.token_bytes(12)
    return nonce + AESGCM(master).encrypt(nonce, key, kid.encode())


def _decrypt(master: bytes, kid: str, blob: bytes) -> bytes:
    try:
        return AESGCM(master).decrypt(blob[:12], blob[12:], kid.encode())
    except InvalidTag:
        raise MasterKeyError(
            f"signing key {kid} cannot be decrypted: the master key differs from the one "
            "that stored it"
        ) from None


def load_ring(engine: sa.Engine, master: bytes, now: float | None = None) -> KeyRing:
    """Every usable signing key, newest current; creates the first key on an empty store."""
    now = time.time() if now is None else now
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(signing_keys).order_by(signing_keys.c.created_at, signing_keys.c.kid)
        ).all()
    live = [r for r in rows if r.retired_at is None or r.retired_at > now - RETIRED_KEYS_KEPT]
    if not any(r.retired_at is None for r in live):
        rotate(engine, master)
        return load_ring(engine, master, now)
    keys = {r.kid: _decrypt(master, r.kid, r.ciphertext) for r in live}
    current = [r.kid for r in live if r.retired_at is None][-1]
    return KeyRing(keys, current)


def rotate(engine: sa.Engine, master: bytes) -> str:
    """Add a new current key and retire the others; returns the new key id."""
    kid = secrets.token_hex(4)
    now = time.time()
    with engine.begin() as conn:
        conn.execute(
            signing_keys.update().where(signing_keys.c.retired_at.is_(None)).values(retired_at=now)
        )
        conn.execute(
            signing_keys.insert().values(
                kid=kid,
                ciphertext=_encrypt(master, kid, secrets.token_bytes(32)),
                created_at=now,
                retired_at=None,
            )
        )
    return kid


def live_keys(engine: sa.Engine, now: float | None = None) -> list[dict[str, object]]:
    """The signing keys that still verify, newest first: kid, created_at, retired_at (None
    for the current key) and current. No key material."""
    now = time.time() if now is None else now
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(signing_keys.c.kid, signing_keys.c.created_at, signing_keys.c.retired_at)
            .where(
                signing_keys.c.retired_at.is_(None)
                | (signing_keys.c.retired_at > now - RETIRED_KEYS_KEPT)
            )
            .order_by(signing_keys.c.created_at.desc(), signing_keys.c.kid.desc())
        ).all()
    return [
        {
            "kid": r.kid,
            "created_at": r.created_at,
            "retired_at": r.retired_at,
            "current": r.retired_at is None,
        }
        for r in rows
    ]
