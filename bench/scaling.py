# ruff: noqa: S603, S607 - fixed local commands on loopback only
"""The performance section of `make bench`: siteverify with tokens the server issued itself,
and what `--workers 2` buys over `--workers 1` against the same for the ceiling app.

Issued: one `passgate serve` (core 0, as in the http section) issues tokens through `/1/solve`
(pre-solved challenges) and through the token API, wrk saving each token it is answered;
siteverify is then loaded with those, and with tokens signed offline, in one run.

Scaling: `passgate serve --workers 1` and `--workers 2`, and the ceiling app with 1 and 2
uvicorn workers, each on every core, wrk on every core too (a 2-core machine cannot keep the
load generator off the server's cores: its CPU share is reported), interleaved rounds.
"""

from __future__ import annotations

import math
import shutil
import statistics
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from bench import load, prepare, servers
from bench.load import Load

FORM = "application/x-www-form-urlencoded"
SV_OK = '"success":true'
TRUST = {"PASSGATE_TRUSTED_PROXIES": "127.0.0.1"}
PREFIXES = 131_072


def _token_bodies(saved: Path, out: Path, secret: str) -> int:
    tokens = [t.strip() for t in saved.read_text().splitlines() if t.strip()]
    out.write_text("".join(urlencode({"secret": secret, "response": t}) + "\n" for t in tokens))
    return len(tokens)


CEILING_SECONDS = 2.0  # the ceiling GET beside each round of the issued rows


ROUNDS = 3  # of the issued rows


def _split(work: Path, kind: str, n: int) -> list[Path]:
    """The saved `issued-KIND.txt` bodies split in `n` files, one for each round."""
    lines = (work / f"issued-{kind}.txt").read_text().splitlines()
    part = len(lines) // n
    out = [work / f"issued-{kind}-{i}.txt" for i in range(n)]
    for i, path in enumerate(out):
        path.write_text("\n".join(lines[i * part : (i + 1) * part]) + "\n")
    return out


def _sv(url: str, seconds: float, bodies: Path, pin: bool = True) -> Load:
    return load.wrk(
        url, seconds, bodies=bodies, path="/siteverify", content_type=FORM, ok_marker=SV_OK,
        pin=pin,
    )  # fmt: skip


def issued(work: Path, quick: bool) -> dict[str, Any]:
    """siteverify req/s with tokens from /1/solve, from the token API, and signed offline."""
    data = work / "issued-data"
    shutil.rmtree(data, ignore_errors=True)
    data.mkdir(parents=True)
    site = prepare.add_site(data, 3600, None, "--no-adaptive")  # pre-solved at 16 a part
    user = prepare.universal_setup(data, site)
    ring = prepare.load_ring(data)
    srv = servers.start_passgate(work, data, "issued")
    mint_seconds = 6 if quick else 90
    out: dict[str, Any] = {}
    try:
        load.wrk(srv.url + "/", 1)
        uni = work / "issued-universal.txt"
        uni.write_text(prepare.universal_body(site) + "\n")
        minting = load.wrk(
            srv.url, mint_seconds, bodies=uni, path="/api/wanda/hcaptcha/universal",
            header=f"User-Token: {user}", ok_marker='"status":1', reuse=True,
            save=work / "issued-api-tokens",
        )  # fmt: skip
        api_n = _token_bodies(work / "issued-api-tokens.0", work / "issued-api.txt", site.secret)
        solutions = prepare.solution_bodies(
            work / "issued-solutions.txt", 90_000 if not quick else 15_000, site, ring
        )
        solving = load.wrk(
            srv.url, 12 if not quick else 2, bodies=solutions, path="/1/solve",
            ok_marker='"token"', save=work / "issued-solve-tokens",
        )  # fmt: skip
        solve_n = _token_bodies(
            work / "issued-solve-tokens.0", work / "issued-solve.txt", site.secret
        )
        offline = prepare.siteverify_bodies(work / "issued-offline.txt", 60_000, site, ring)
        probe = _sv(srv.url, 1, offline)
        rate = max(probe.ok_rps, 1000.0)
        # Three rounds in a Latin square (each kind once in each place of a round), so that
        # neither the machine's drift nor a run's place weighs on one kind; each run is sized
        # to the tokens at hand (a third of each kind), never long enough to run out of them.
        seconds = max(0.5, min(4.0, 0.8 * min(api_n, solve_n) / ROUNDS / rate))
        runs: dict[str, list[Load]] = {"offline": [], "solve": [], "api": []}
        parts = {kind: _split(work, kind, ROUNDS) for kind in ("solve", "api")}
        parts["offline"] = [  # made before the rounds, as the others were
            prepare.siteverify_bodies(
                work / f"issued-offline-{i}.txt", math.ceil(rate * seconds * 2), site, ring
            )
            for i in range(ROUNDS)
        ]
        ceiling = servers.start_ceiling(work)  # on core 0 too; idle while passgate runs
        ceiling_runs: list[Load] = []
        try:
            load.wrk(ceiling.url + "/", 1)
            orders = (("offline", "solve", "api"), ("solve", "api", "offline"),
                      ("api", "offline", "solve"))  # fmt: skip
            for rnd, order in enumerate(orders):
                for kind in order:
                    runs[kind].append(_sv(srv.url, seconds, parts[kind][rnd]))
                ceiling_runs.append(load.wrk(ceiling.url + "/", CEILING_SECONDS))
        finally:
            ceiling.stop()
        out = {
            "minted_api": api_n,
            "mint_api_rps": minting.ok_rps,
            "minted_solve": solve_n,
            "solve_rps": solving.ok_rps,
            "run_seconds": round(seconds, 2),
            "ceiling_get": statistics.median(r.ok_rps for r in ceiling_runs),
            "ceiling_runs": [r.as_dict() for r in ceiling_runs],
            "rows": {
                k: {
                    "rps": statistics.median(r.ok_rps for r in v),
                    "failed": sum(r.requests - r.ok for r in v),
                    "wrapped": max(r.extra.get("wrapped", 0) for r in v),
                    "runs": [r.as_dict() for r in v],
                }
                for k, v in runs.items()
            },
        }
    finally:
        srv.stop()
    return out


def mixed(work: Path, quick: bool) -> dict[str, Any]:
    """Completed sign-ups a second: each of wrk's 32 virtual users runs /1/challenge, solves
    it (the site's difficulty is 16 attempts a part, so wrk's side stays cheap), /1/solve,
    then siteverify, from one X-Forwarded-For address (a new /24 of 131,072 each time); a
    sign-up counts when siteverify answers success. The site is otherwise the defaults
    (adaptation on), the counters on; one worker on core 0, wrk on core 1. Reported beside
    the ceiling POST."""
    data = work / "mixed-data"
    shutil.rmtree(data, ignore_errors=True)
    data.mkdir(parents=True)
    site = signup_site(data)
    srv = servers.start_passgate(work, data, "mixed", TRUST)
    seconds = 2.0 if quick else 4.0
    runs: list[Load] = []
    try:
        load.wrk(srv.url + "/", 1)
        for rnd in range(1 if quick else 3):
            runs.append(signups(srv.url, seconds, site, rnd * USERS_PER_RUN))
    finally:
        srv.stop()
    return {
        "signups_per_s": statistics.median(r.ok_rps for r in runs),
        "requests_per_s": statistics.median(r.rps for r in runs),
        "p99_ms": statistics.median(r.p99_ms for r in runs),
        "run_seconds": seconds,
        "runs": [r.as_dict() for r in runs],
    }


USERS_PER_RUN = 20_032  # more sign-ups than a run completes; a multiple of 64 (signup.lua)


def signup_site(data: Path) -> prepare.Site:
    """The mixed load's site: difficulty 16 × parts, the defaults otherwise."""
    from passgate import challenge

    return prepare.add_site(data, None, 16 * challenge.parts_for(16), name="signup")


def signups(
    url: str, seconds: float, site: prepare.Site, first_user: int, pin: bool = True
) -> Load:
    """One run of the mixed load: wrk's 32 virtual users sign up (signup.lua), users numbered
    from `first_user`; ok counts completed sign-ups."""
    settings = {
        "BENCH_SITEKEY": site.sitekey,
        "BENCH_SECRET": site.secret,
        "BENCH_HOST": prepare.HOST,
        "BENCH_XFF_PREFIXES": str(PREFIXES),
        "BENCH_XFF_OFFSET": str(first_user),
    }
    return load.wrk(url, seconds, 32, own_script="signup", threads=32, settings=settings, pin=pin)


def scaling(work: Path, quick: bool) -> dict[str, Any]:
    """--workers 2 ÷ --workers 1 against the ceiling's 2 ÷ 1, on siteverify, /1/challenge and
    the mixed sign-up load; server and client CPU per request; raced tokens; p99 at half
    load with 2 workers."""
    from bench.run import at_rate

    rounds = 1 if quick else 3
    seconds = 2.0 if quick else 4.0
    data = work / "scaling-data"
    shutil.rmtree(data, ignore_errors=True)
    data.mkdir(parents=True)
    site = prepare.add_site(data, 3600, None)  # the defaults: adaptive
    ring = prepare.load_ring(data)
    signup = signup_site(data)
    users = [0]
    ch_body = work / "scaling-challenge.txt"
    ch_body.write_text(prepare.challenge_body(site) + "\n")
    small = work / "scaling-post.txt"
    small.write_text(prepare.challenge_body(site) + "\n")
    results: dict[str, list[dict[str, Any]]] = {}
    offset = [0]

    def measure(key: str, server: servers.Server, fn: Any) -> None:
        cpu = servers.tree_cpu_seconds(server.proc.pid)
        each = servers.children_cpu_seconds(server.proc.pid)
        r: Load = fn(server.url)
        spent = servers.tree_cpu_seconds(server.proc.pid) - cpu
        after = servers.children_cpu_seconds(server.proc.pid)
        busy = sorted((after[p] - each[p] for p in after if p in each), reverse=True)
        results.setdefault(key, []).append(
            {
                **r.as_dict(),
                "server_cpu_s": round(spent, 3),
                "server_cpu_ms_per_1000": round(1e6 * spent / max(1, r.ok), 1),
                "client_share": round(r.extra.get("client_cpu_s", 0) / (spent + 1e-9), 2),
                # the busiest worker's share of the workers' CPU: 0.5 is an even split
                "busiest_share": round(busy[0] / sum(busy), 2) if sum(busy) > 0 else None,
            }
        )

    def sv(url: str) -> Load:
        bodies = prepare.siteverify_bodies(work / "scaling-sv.txt", 100_000, site, ring)
        return _sv(url, seconds, bodies, pin=False)

    def challenge(url: str) -> Load:
        offset[0] += 200_000
        return load.wrk(
            url, seconds, bodies=ch_body, path="/1/challenge", ok_marker='"challenge"',
            reuse=True, xff_prefixes=PREFIXES, xff_offset=offset[0], pin=False,
        )  # fmt: skip

    def mixed_load(url: str) -> Load:
        users[0] += USERS_PER_RUN
        return signups(url, seconds, signup, users[0], pin=False)

    def ceiling_post(url: str) -> Load:
        return load.wrk(
            url, seconds, bodies=small, path="/post", ok_marker="success", reuse=True, pin=False
        )

    half: dict[str, Any] = {}
    raced: dict[str, Any] = {}
    for rnd in range(rounds):
        for workers in (1, 2) if rnd % 2 == 0 else (2, 1):
            srv = servers.start_passgate(
                work, data, f"scaling-{workers}", TRUST, workers=workers, pin=False
            )
            try:
                load.wrk(srv.url + "/", 1, pin=False)
                measure(f"siteverify_{workers}", srv, sv)
                measure(f"challenge_{workers}", srv, challenge)
                measure(f"mixed_{workers}", srv, mixed_load)
                if workers == 2 and rnd == rounds - 1:
                    raced = race(work, srv, site, ring, 2_000 if quick else 10_000)
                    target = statistics.median(r["ok_rps"] for r in results["siteverify_2"]) / 2
                    half = at_rate(
                        srv.url, target, seconds,
                        lambda n: prepare.siteverify_bodies(work / "scaling-half.txt", n,
                                                            site, ring),
                    )  # fmt: skip
            finally:
                srv.stop()
            ceiling = servers.start_ceiling(work, workers)
            try:
                load.wrk(ceiling.url + "/", 1, pin=False)
                measure(f"ceiling_post_{workers}", ceiling, ceiling_post)
            finally:
                ceiling.stop()

    def med(key: str) -> float:
        return statistics.median(r["ok_rps"] for r in results[key])

    ratios: dict[str, Any] = {}
    for endpoint in ("siteverify", "challenge", "mixed"):
        mine = [
            a["ok_rps"] / b["ok_rps"]
            for a, b in zip(results[f"{endpoint}_2"], results[f"{endpoint}_1"], strict=True)
        ]
        ceil = [
            a["ok_rps"] / b["ok_rps"]
            for a, b in zip(results["ceiling_post_2"], results["ceiling_post_1"], strict=True)
        ]
        ratios[endpoint] = {
            "passgate_2_over_1": statistics.median(mine),
            "ceiling_2_over_1": statistics.median(ceil),
            "R": statistics.median(m / c for m, c in zip(mine, ceil, strict=True)),
            "cpu_per_1000_2_over_1": statistics.median(
                r["server_cpu_ms_per_1000"] for r in results[f"{endpoint}_2"]
            ) / statistics.median(r["server_cpu_ms_per_1000"] for r in results[f"{endpoint}_1"]),
        }  # fmt: skip
    return {
        "rounds": rounds,
        "run_seconds": seconds,
        "medians": {k: med(k) for k in results},
        "ratios": ratios,
        "internal_errors_2": sum(
            r["requests"] - r["ok"] for r in results["siteverify_2"]
        ),  # siteverify with fresh tokens: any failure would be an internal error
        "half_load_2": half,
        "raced": raced,
        "runs": results,
    }


def race(work: Path, srv: servers.Server, site: Any, ring: Any, count: int) -> dict[str, Any]:
    """`count` tokens, each sent twice in a row (on two of wrk's connections at once), to
    the 2-worker server, then padded with refused bodies so that wrk's run ends inside the
    padding (a run that stops when its file ends drops the answers in flight). A second pass
    over the tokens finds those never accepted; accepted − (count − never accepted) is the
    number of double accepts."""
    once = prepare.siteverify_bodies(work / "scaling-race-once.txt", count, site, ring)
    lines = once.read_text().splitlines()
    twice = work / "scaling-race.txt"
    pad = urlencode({"secret": site.secret, "response": "P1_x.y"})
    twice.write_text("".join(f"{line}\n{line}\n" for line in lines) + f"{pad}\n" * (count * 8))
    seconds = max(2.0, 2 * count / 10_000 + 1)
    r = load.wrk(
        srv.url, seconds, bodies=twice, path="/siteverify", content_type=FORM, ok_marker=SV_OK,
        pin=False,
    )  # fmt: skip
    again = load.wrk(
        srv.url, 2, bodies=once, path="/siteverify", content_type=FORM, ok_marker=SV_OK,
        pin=False,
    )  # fmt: skip
    never = again.ok  # tokens the race never had accepted (their answers were all refusals)
    return {
        "tokens": count,
        "sent": int(r.extra.get("sent", 0)),
        "accepted": r.ok,
        "never_accepted": never,
        "double_accepts": max(0, r.ok - (count - never)),
        "padding_reached": int(r.extra.get("sent", 0)) > 2 * count,
    }


def targets(r: dict[str, Any], ceiling_get: float | None) -> list[tuple[str, str, bool | None]]:
    out: list[tuple[str, str, bool | None]] = []
    issued_rows = r.get("issued", {}).get("rows", {})
    beside = r.get("issued", {}).get("ceiling_get") or ceiling_get
    if issued_rows and beside:
        solve = issued_rows["solve"]["rps"]
        also = (
            f"; against the http section's ceiling ({ceiling_get:,.0f}): {solve / ceiling_get:.2f}"
            if ceiling_get and beside != ceiling_get
            else ""
        )
        out.append(
            (
                "siteverify, tokens issued by the server (/1/solve) ÷ ceiling GET, 1 worker "
                "≥ 0.40 (goal 0.6)",
                f"{solve:,.0f} req/s = **{solve / beside:.2f}** × {beside:,.0f}, the ceiling "
                f"measured beside these rows{also}",
                solve / beside >= 0.40,
            )
        )
    if issued_rows:
        api, off = issued_rows["api"]["rps"], issued_rows["offline"]["rps"]
        out.append(
            (
                "siteverify with token-API tokens vs offline-signed tokens, same run: "
                "differ by ≤ 10%",
                f"{api:,.0f} vs {off:,.0f} req/s: **{api / off - 1:+.1%}**",
                abs(api / off - 1) <= 0.10,
            )
        )
    s = r.get("scaling")
    if s:
        sv = s["ratios"]["siteverify"]
        out.append(
            (
                "R = (passgate 2 workers ÷ 1) ÷ (ceiling 2 ÷ 1), siteverify, median of "
                f"{s['rounds']} interleaved rounds ≥ 0.9",
                f"**{sv['R']:.2f}** ({sv['passgate_2_over_1']:.2f} ÷ {sv['ceiling_2_over_1']:.2f})",
                sv["R"] >= 0.9,
            )
        )
        out.append(
            (
                "server CPU-seconds per 1,000 verifies, 2 workers ÷ 1 ≤ 1.1",
                f"**{sv['cpu_per_1000_2_over_1']:.2f}**",
                sv["cpu_per_1000_2_over_1"] <= 1.1,
            )
        )
        out.append(
            (
                "`internal-error` answers during the `--workers 2` siteverify runs: 0",
                f"**{s['internal_errors_2']}**",
                s["internal_errors_2"] == 0,
            )
        )
        half = s.get("half_load_2") or {}
        if half:
            out.append(
                (
                    "siteverify p99 at half load, 2 workers < 10 ms",
                    f"**{half['p99_ms']:.1f} ms** at {half['rps']:,.0f} req/s",
                    half["p99_ms"] < 10,
                )
            )
        raced = s.get("raced") or {}
        if raced:
            out.append(
                (
                    f"double accepts across 2 workers, {raced['tokens']:,} raced tokens: 0",
                    f"**{raced['double_accepts']}** ({raced['accepted']:,} accepted of "
                    f"{2 * raced['tokens']:,} raced requests; {raced['never_accepted']} "
                    "never accepted)",
                    raced["double_accepts"] == 0 and raced["padding_reached"],
                )
            )
    out.append(
        (
            "passgate 2 workers ÷ 1 on a 16-core device machine ≥ 1.6",
            "not measured: this task was lent no device machine",
            None,
        )
    )
    m = r.get("mixed")
    if m:
        ceiling_post = r.get("ceiling_post")
        scale = f" (ceiling POST {ceiling_post:,.0f} req/s)" if ceiling_post else ""
        out.append(
            (
                "mixed sign-up load, 1 worker: reported, with the ceiling POST for scale",
                f"**{m['signups_per_s']:,.0f} sign-ups/s** ({m['requests_per_s']:,.0f} "
                f"req/s){scale}",
                None,
            )
        )
    return out


def section(r: dict[str, Any], ceiling_get: float | None) -> list[str]:
    L = ["## Performance: tokens the server issued, and `--workers`", ""]
    i = r.get("issued")
    L += [
        "**The siteverify gap a user measured (7,900 req/s after minting about 40,000 tokens "
        "through the token API, against 11,600 from `make bench`).** What it was, found by "
        "reproducing it (`bench/scaling.py` keeps the honest form of the measurement):",
        "",
        "- *The load ran out of tokens.* wrk's run lasts its duration, but a file of "
        "single-use tokens ends when it is spent: 40,000 tokens over a 5 s run report at most "
        "40,000 ÷ 5 = 8,000 req/s, whatever the server does. Reproduced here: 30,000 "
        "token-API tokens over a 4 s run read 7,490 req/s, every one accepted. The rows below "
        "size each run to the tokens at hand and say whether a run ran out.",
        "- *Tokens that expired before the load.* Minting 40,000 tokens through the universal "
        "call takes over a minute at its ~600 calls/s, longer than the default token lifetime "
        "(120 s): the first tokens are refused as expired, and only successes count. Reproduced "
        "here: 6,690 successes/s.",
        "- *A server state the benchmark never reached: an unbounded WAL.* Under sustained "
        "siteverify load the SQLite WAL grew by about 37 MB every 4 s without end, because "
        "PASSIVE checkpoints never catch up with a writer that never pauses. The spend store "
        "now checkpoints and caps the journal: over 24 s of load the WAL stays at about 19 MB "
        "(it reached 222 MB before). First with RESTART every 2 s, which held the writer for "
        "the whole copy (94 ms stalls in a standalone writer test); now every 0.5 s, PASSIVE "
        "(the bulk, while the writer goes on) then RESTART (the rest: 8.5 ms stalls), and the "
        "siteverify p99 at half load fell from 19.5 ms to 10.5 ms between the two full runs.",
        "- *A burst of identical queries once a second: the tail.* The site cache kept an "
        "entry for 1 s, and every request that met the expired entry ran its own query in the "
        "threadpool: under 32 or 64 connections, as many queries and fresh pool connections at "
        "once, a 10-40 ms stall each second, which set the siteverify p99 at half load (one "
        "worker with wrk on the same cores: 20 ms; two workers: 14-24 ms). Now one load per "
        "key is shared by every waiting request, and an entry is reloaded in the background "
        "from half its lifetime, so no request waits for it (6-8 ms on both).",
        "- *Not the server's state after real traffic* (records, spends, caches, the "
        "collector after `gc.freeze`): one server, offline-signed tokens, medians of 3 runs of "
        "1.5 s: 10,450 req/s fresh, 10,585 after 11,756 token-API calls, 10,691 after 29,968 "
        "solves, 9,781 a minute later with nothing changed: within this machine's noise.",
        "- *Not the token kind.* A token minted for an API key costs siteverify what a widget "
        "token costs: 114.3 against 114.2 µs CPU in-process, and the rows below, in one run.",
        "",
    ]
    if i:
        L += [
            "siteverify on one `passgate serve` (core 0, wrk on core 1), loaded with tokens "
            f"the server itself issued just before: {i['minted_solve']:,} through `/1/solve` "
            f"(pre-solved challenges, {i['solve_rps']:,.0f} solves/s) and {i['minted_api']:,} "
            f"through the token API's universal call ({i['mint_api_rps']:,.0f} calls/s), and "
            f"with tokens signed offline, runs of {i['run_seconds']} s sized so that no run "
            "runs out of tokens (a run that does reports tokens ÷ duration, not the server). "
            "Three rounds in a Latin square (offline, `/1/solve`, API; then `/1/solve`, API, "
            "offline; then API, offline, `/1/solve`), so that neither the machine's drift nor a "
            "run's place in its round weighs on one kind; a row is the median of its three runs. "
            "The "
            "ceiling GET (core 0, the same wrk) was measured after each round, beside these "
            "rows: "
            + (
                f"{i['ceiling_get']:,.0f} req/s, the denominator of the ratios below."
                if i.get("ceiling_get")
                else "not in this run."
            ),
            "",
            "| tokens | siteverify req/s | ÷ ceiling GET | failed | ran out |",
            "| --- | ---: | ---: | ---: | --- |",
        ]
        beside = i.get("ceiling_get") or ceiling_get
        for name, row in i["rows"].items():
            ratio = f"{row['rps'] / beside:.2f}" if beside else "-"
            L.append(
                f"| {name} | {row['rps']:,.0f} | {ratio} | {row['failed']} | "
                f"{'yes' if row['wrapped'] else 'no'} |"
            )
        L.append("")
    m = r.get("mixed")
    if m:
        L += [
            "**Mixed sign-up load.** 32 virtual users (wrk, core 1), each: `/1/challenge`, "
            "solve it in wrk's Lua (the site's difficulty is 16 attempts a part), `/1/solve`, "
            "then siteverify, from one X-Forwarded-For address (a new /24 of 131,072 for each "
            "sign-up); a sign-up counts when siteverify answers success. The site has the "
            "defaults otherwise (adaptation on), the counters are on; one worker on core 0. "
            f"Median of {len(m['runs'])} runs of {m['run_seconds']:g} s: "
            f"**{m['signups_per_s']:,.0f} sign-ups/s**, {m['requests_per_s']:,.0f} requests/s, "
            f"p99 {m['p99_ms']:.1f} ms.",
            "",
        ]
    s = r.get("scaling")
    if s:
        L += [
            f"`--workers 1` against `--workers 2`, and the ceiling app with 1 and 2 uvicorn "
            f"workers, {s['rounds']} interleaved rounds of {s['run_seconds']:g} s. Server and "
            "wrk share this machine's 2 cores (nothing can be pinned apart), so wrk's own CPU "
            "is reported beside the server's: a second worker competes with the load "
            "generator for the same cores.",
            "",
            "| load | 1 worker req/s | 2 workers req/s | 2 ÷ 1 | server CPU ms per 1,000, "
            "1 → 2 | wrk CPU ÷ server CPU, 2 workers | busier worker's share of the "
            "workers' CPU, each run |",
            "| --- | ---: | ---: | ---: | --- | ---: | --- |",
        ]
        m = s["medians"]
        for key, label in (
            ("siteverify", "siteverify"),
            ("challenge", "/1/challenge (131,072 /24s)"),
            ("mixed", "mixed sign-ups (completed a second)"),
            ("ceiling_post", "ceiling POST"),
        ):
            one, two = m[f"{key}_1"], m[f"{key}_2"]
            cpu1 = statistics.median(x["server_cpu_ms_per_1000"] for x in s["runs"][f"{key}_1"])
            cpu2 = statistics.median(x["server_cpu_ms_per_1000"] for x in s["runs"][f"{key}_2"])
            share = statistics.median(x["client_share"] for x in s["runs"][f"{key}_2"])
            split = ", ".join(
                f"{x['busiest_share']:.2f}" if x.get("busiest_share") is not None else "-"
                for x in s["runs"][f"{key}_2"]
            )
            L.append(
                f"| {label} | {one:,.0f} | {two:,.0f} | {two / one:.2f} | "
                f"{cpu1:,.0f} → {cpu2:,.0f} | {share:.2f} | {split} |"
            )
        L += [
            "",
            "The last column is how evenly the load fell on the two workers (0.50 is an "
            "even split). They share one listening socket, and wrk opens all its keep-alive "
            "connections at once: with uvloop's own accept, which takes every connection "
            "waiting, the first worker to wake took nearly all of them (0.99 in each "
            "/1/challenge run of a check before the change, 6,100 req/s against 10,400 "
            "after). Each worker now accepts at most 8 a turn of its loop (`workers.Acceptor`). "
            "One socket a worker (SO_REUSEPORT) split evenly too, but was set aside: a hung "
            "worker keeps receiving its share of new connections, and one that dies resets "
            "those waiting in its queue, where a shared socket loses none.",
            "",
        ]
    return L
