"""Settings: defaults, TOML, environment, and clear errors."""

from pathlib import Path

import pytest

from passgate import settings


def test_defaults() -> None:
    cfg = settings.load(env={})
    assert cfg.port == 8000 and cfg.host == "127.0.0.1" and cfg.token_lifetime == 120
    assert cfg.effective_database_url.startswith("sqlite:///")


def test_env_beats_toml_and_options_beat_env(tmp_path: Path) -> None:
    toml = tmp_path / "p.toml"
    toml.write_text('[passgate]\nport = 9000\nlog_level = "debug"\n')
    cfg = settings.load(env={"PASSGATE_PORT": "9100", "PASSGATE_CONFIG": str(toml)})
    assert cfg.port == 9100 and cfg.log_level == "debug"
    assert settings.load(env={"PASSGATE_PORT": "9100"}, port=9200).port == 9200


@pytest.mark.parametrize(
    ("env", "toml"),
    [({"PASSGATE_PORT": "eighty"}, None), ({}, "[passgate]\nnope = 1\n"), ({}, "not toml =")],
)
def test_bad_settings_are_clear_errors(tmp_path: Path, env: dict, toml: str | None) -> None:
    path = None
    if toml is not None:
        path = tmp_path / "bad.toml"
        path.write_text(toml)
    with pytest.raises(settings.SettingsError):
        settings.load(env=env, toml_path=str(path) if path else None)


def test_every_setting_is_documented_in_the_readme() -> None:
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    missing = [s.env for s in settings.SETTINGS if s.env not in readme]
    assert missing == []
