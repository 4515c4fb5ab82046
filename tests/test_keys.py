"""Signing keys: the master key file, encryption at rest, rotation."""

import os
import stat

import pytest

from passgate import keys, settings, token
from passgate.service import open_engine


def test_master_key_file_is_private_and_stable(tmp_path) -> None:
    cfg = settings.load(env={}, data_dir=str(tmp_path))
    first = keys.master_key(cfg)
    mode = stat.S_IMODE(os.stat(tmp_path / "master.key").st_mode)
    assert mode == 0o600
    assert keys.master_key(cfg) == first and len(first) == 32


def test_signing_keys_are_encrypted_at_rest(tmp_path) -> None:
    cfg = settings.load(env={}, data_dir=str(tmp_path))
    engine = open_engine(cfg)
    ring = keys.load_ring(engine, keys.master_key(cfg))
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("passgate.db*"))
    assert b"signing_keys" in raw
    assert ring.current_key not in raw
    with pytest.raises(keys.MasterKeyError):
        keys.load_ring(engine, b"w" * 32)


def test_rotation_keeps_old_tokens_valid(tmp_path) -> None:
    cfg = settings.load(env={}, data_dir=str(tmp_path))
    engine = open_engine(cfg)
    master = keys.master_key(cfg)
    old_ring = keys.load_ring(engine, master)
    old = token.encode(token.mint("sk", "h", 0, 120), old_ring)
    keys.rotate(engine, master)
    new_ring = keys.load_ring(engine, master)
    assert new_ring.current != old_ring.current
    assert token.decode(old, new_ring).kid == old_ring.current


def test_master_key_from_env(tmp_path) -> None:
    cfg = settings.load(
        env={"PASSGATE_MASTER_KEY": "correct horse battery staple"}, data_dir=str(tmp_path)
    )
    assert len(keys.master_key(cfg)) == 32
    assert not (tmp_path / "master.key").exists()
    with pytest.raises(keys.MasterKeyError):
        keys.master_key(settings.load(env={"PASSGATE_MASTER_KEY": "short"}))
