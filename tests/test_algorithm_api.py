"""Argon2id sites through the widget endpoints, the CLI and the admin API: the challenge
names its algorithm and parameters, a token earned with Argon2id verifies once, a widget
from before the algorithm is told to reload, and the opt-in SHA-256 fallback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from passgate import challenge
from passgate.cli import main
from passgate.service import Service
from tests.conftest import SiteCreds

pytestmark = pytest.mark.anyio

HOST = "shop.example"


def argon_site(service: Service, **extra: object) -> SiteCreds:
    site, secret = service.sites.add([HOST], difficulty=30, algorithm="argon2id", **extra)
    return SiteCreds(site.sitekey, secret)


async def ask(client, sitekey: str, **extra: object):
    return await client.post("/1/challenge", json={"sitekey": sitekey, "host": HOST, **extra})


async def test_an_argon2id_token_verifies_once(client, service: Service) -> None:
    site = argon_site(service)
    r = await ask(client, site.sitekey, v=2)
    assert r.status_code == 200, r.text
    data = r.json()
    assert data["algorithm"] == "argon2id" and data["params"] == {"m": 1024, "t": 1, "p": 1}
    assert data["difficulty"] == 30 and data["parts"] == 1
    ch = challenge.decode(data["challenge"], service.ring, data["expires"] - 10)
    solved = await client.post(
        "/1/solve", json={"challenge": data["challenge"], "nonces": challenge.solve(ch)}
    )
    assert solved.status_code == 200, solved.text
    tok = solved.json()["token"]
    first = await client.post("/siteverify", data={"secret": site.secret, "response": tok})
    assert first.json()["success"] is True
    again = await client.post("/siteverify", data={"secret": site.secret, "response": tok})
    assert again.json()["error-codes"] == ["already-seen-response"]


async def test_a_wrong_argon2id_solution_is_refused(client, service: Service) -> None:
    site = argon_site(service)
    data = (await ask(client, site.sitekey, v=2)).json()
    ch = challenge.decode(data["challenge"], service.ring, data["expires"] - 10)
    nonces = [n + 1 for n in challenge.solve(ch)]
    while challenge.check(ch, nonces):
        nonces = [n + 1 for n in nonces]
    r = await client.post("/1/solve", json={"challenge": data["challenge"], "nonces": nonces})
    assert r.status_code == 400 and r.json()["error"] == "challenge-error"
    assert "renew" not in r.json()


async def test_a_widget_from_before_the_algorithm_is_told_to_reload(
    client, service: Service, site: SiteCreds
) -> None:
    argon = argon_site(service)
    r = await ask(client, argon.sitekey)  # no "v": an old cached widget
    assert r.status_code == 400
    assert r.json()["error"] == "challenge-error" and r.json()["reload"] is True
    # a SHA-256 site serves old widgets as before
    old = await ask(client, site.sitekey)
    assert old.status_code == 200 and old.json()["algorithm"] == "sha256"


async def test_without_webassembly_a_site_without_fallback_says_so(
    client, service: Service
) -> None:
    argon = argon_site(service)
    r = await ask(client, argon.sitekey, v=2, fallback=True)
    assert r.status_code == 400
    assert r.json()["error"] == "challenge-error" and r.json()["nowasm"] is True


async def test_the_sha256_fallback_is_priced_and_scored(client, service: Service) -> None:
    argon = argon_site(service, fallback="sha256")
    r = await ask(client, argon.sitekey, v=2, fallback=True)
    data = r.json()
    assert data["algorithm"] == "sha256" and "params" not in data
    assert data["difficulty"] == 4 * 120_000  # the stated multiple of SHA-256's base
    ch = challenge.decode(data["challenge"], service.ring, data["expires"] - 10)
    assert ch.algorithm == "sha256"
    solved = await client.post(
        "/1/solve", json={"challenge": data["challenge"], "nonces": [0] * ch.parts}
    )
    assert solved.status_code == 400  # a wrong SHA-256 answer is refused like any other


def test_cli_algorithm_resets_difficulty_and_cap(tmp_path: Path) -> None:
    runner = CliRunner()

    def run(*args: str) -> dict:
        result = runner.invoke(main, ["--data-dir", str(tmp_path / "d"), *args, "--json"], env={})
        assert result.exit_code == 0, result.output
        out: dict = json.loads(result.output)
        return out

    sk = run("site", "add", "--hostname", HOST)["sitekey"]
    (site,) = run("site", "list")
    assert site["algorithm"] == "sha256" and site["difficulty"] == 120_000
    assert site["max_difficulty"] == 8_000_000 and site["fallback"] is None
    site = run("site", "update", sk, "--algorithm", "argon2id", "--fallback", "sha256")
    assert site["algorithm"] == "argon2id" and site["fallback"] == "sha256"
    assert site["difficulty"] == 300 and site["max_difficulty"] == 3_400
    site = run("site", "update", sk, "--algorithm", "argon2id", "--difficulty", "900")
    assert site["difficulty"] == 900 and site["max_difficulty"] == 3_400
    site = run("site", "update", sk, "--algorithm", "sha256")
    assert site["difficulty"] == 120_000 and site["fallback"] is None
    run("site", "update", sk, "--max-difficulty", "2000000")
    site = run("site", "update", sk, "--algorithm", "argon2id", "--difficulty", "500")
    assert site["difficulty"] == 500  # a SHA-256 cap is no Argon2id cap: the units differ
    assert site["max_difficulty"] == 3_400
    run("site", "update", sk, "--algorithm", "sha256")
    added = run("site", "add", "--hostname", HOST, "--algorithm", "argon2id")
    (new,) = [s for s in run("site", "list") if s["sitekey"] == added["sitekey"]]
    assert new["difficulty"] == 300 and new["algorithm"] == "argon2id"
    bad = runner.invoke(
        main, ["--data-dir", str(tmp_path / "d"), "site", "update", sk, "--fallback", "sha256"]
    )
    assert bad.exit_code != 0 and "needs no fallback" in bad.output
    env = {"PASSGATE_DEFAULT_ALGORITHM": "argon2id"}
    result = runner.invoke(
        main, ["--data-dir", str(tmp_path / "d"), "site", "add", "--hostname", HOST, "--json"],
        env=env,
    )  # fmt: skip
    sk2 = json.loads(result.output)["sitekey"]
    (by_env,) = [s for s in run("site", "list") if s["sitekey"] == sk2]
    assert by_env["algorithm"] == "argon2id" and by_env["difficulty"] == 300
    env = {"PASSGATE_DEFAULT_ALGORITHM": "scrypt"}
    result = runner.invoke(
        main, ["--data-dir", str(tmp_path / "d"), "site", "add", "--hostname", HOST], env=env
    )
    assert result.exit_code != 0 and "unknown algorithm" in result.output
    assert "Traceback" not in result.output
