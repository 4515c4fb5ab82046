"""The abuse section's text in BENCHMARKS.md: its tables, its method and its chart (the
target rows are bench.abuse_report's)."""

from __future__ import annotations

import math
import statistics
from pathlib import Path
from typing import Any

from bench.abuse import hot_from
from bench.abuse_browser import percentile
from bench.abuse_report import SCALE, at_scale, fmt_ms, per_minute, share_high
from passgate.abuse import difficulty


def section(a: dict[str, Any]) -> list[str]:
    """The '## Abuse resistance' section, after the targets table."""
    base, rate, cap = a["base"], a["attacker"]["rate"], a["cap"]
    plan = a["plan"]
    L = ["## Abuse resistance", ""]
    if plan["quick"]:
        L += [
            "QUICK: every run below is shortened (the one-prefix attack, the rotations, the "
            "people, the fill); only the full `make bench` quotes the targets' own durations.",
            "",
        ]
    L.append(
        "One `passgate serve` on the embedded SQLite store, core 0, with "
        "`PASSGATE_TRUSTED_PROXIES=127.0.0.1`: every request carries `X-Forwarded-For` from "
        "this loopback proxy, so one machine plays every prefix. Sites: the defaults "
        f"(base {base:,} expected hashes, cap {cap:,}), a copy with `--no-adaptive` "
        f"and `--difficulty {256} --max-difficulty {256_000:,}` for the curve; all "
        "`--algorithm sha256`."
    )
    L.append("")
    att = a["attacker"]
    L.append(
        f"**The attacker** (`bench/attacker.c`, `cc -O2`, {att['sha256']}) solves passgate's "
        "puzzle and nothing else: the 44-byte message's first 32 bytes (the salt) are hashed "
        "once per challenge (midstate), and only the digest's first word is finished. One "
        f"core: **{rate / 1e6:.1f} M hashes/s** (median of {len(att['runs'])}), "
        f"{rate / att['openssl_44']:.1f}× `openssl speed` on 44-byte inputs. It fetches a "
        "challenge, solves it, posts it as soon as it has it, and verifies each token at "
        "`/siteverify` for its score; the driver and the attacker share core 1. Tokens a "
        f"minute are scaled to 100 M hashes/s by × {SCALE / rate:.2f} (100 M ÷ its rate), "
        "counting only tokens that score < 0.7. A quiet prefix in another /16 (/32) asks for a "
        "challenge every 5 s of each attack."
    )
    L.append("")
    L.append(
        "| attack | run | tokens | tokens/min | < 0.7 /min (at 100 M/s) | last difficulty "
        "| ≥ 0.7 | quiet prefix | at stop → 10 min later |"
    )
    L.append("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for key, label in (
        ("single", "one /24"),
        ("rotate_v4", "256 /24s of a /16"),
        ("rotate_v6", "1,000 /48s of a /32"),
    ):
        r = a[key]
        if key == "single":
            lo, hi = plan["single_window"]
            span = f"{lo:.0f}-{hi:.0f} s"
        else:
            lo, hi = hot_from(r["tokens"]) or r["seconds"], r["seconds"]
            span = f"{lo:.1f}-{hi:.0f} s (parent hot)"
        w = per_minute(r, lo, hi)
        share, _ = share_high([t[3] for t in r["tokens"]])
        last = r["tokens"][-1][2] if r["tokens"] else 0
        quiet = max((p[1] for p in r["probes"]), default=0)
        L.append(
            f"| {label} | {r['seconds']:.0f} s | {len(r['tokens']):,} | {w['all']:.1f} ({span}) | "
            f"{w['low']:.1f} ({at_scale(w['low'], rate):.1f}) | {last:,} | {share:.1%} | "
            f"{quiet / base:.2f}× | {r['after']['at_stop']:,} → {r['after']['later']:,} |"
        )
    L.append("")
    L.append(
        "- **10 minutes after it stops:** the attack's rows (its prefixes and their parent) are "
        "moved 600 s into the past in the server's store, which is exactly what waiting does to "
        "decaying counts, then the first prefix asks the server for a challenge. Renewed "
        "solutions (`renew`): "
        + ", ".join(f"{a[k]['renewed']}" for k in ("single", "rotate_v4", "rotate_v6"))
        + "; refused: "
        + ", ".join(f"{a[k]['refused']}" for k in ("single", "rotate_v4", "rotate_v6"))
        + "."
    )
    L.append(
        "- **Parent hot:** from the first token after which the parent's decayed solves "
        "(counted from the tokens' times with the server's decay) carry the network-velocity "
        "risk to 0.7 on their own."
    )
    L.append("")
    d = a["curve"]["issued"]
    L.append(
        "**The curve** (base 256, cap 256,000): 1,000 solves from one /24 back to back; "
        "d(n) is the difficulty of the challenge the server issues after n solves. The last "
        "column is computed with `abuse.difficulty.price` for n solves spread evenly over "
        "the minute before (the lower bound; back to back is the upper)."
    )
    L.append("")
    L.append("| n | d(n), measured | d(n) ÷ d(1) | spread evenly, computed ÷ d(1) |")
    L.append("| ---: | ---: | ---: | ---: |")
    for n in (1, 10, 30, 100, 300, 1000):
        if n < len(d):
            c = n * (1 - math.exp(-1))
            even = difficulty.price(256, 256_000, c, c)
            L.append(f"| {n:,} | {d[n]:,} | {d[n] / d[1]:.2f} | {even / d[1]:.2f} |")
    L.append("")
    if "error" not in a["people"]:
        L.append(_people(a["people"], base))
    L.append("")
    L += _stores(a["live"])
    tp = a["throughput"]
    runs = {k: ", ".join(f"{r['ok_rps']:,.0f}" for r in v["runs"]) for k, v in tp.items()}
    L.append(
        f"**/1/challenge throughput**, wrk as above, each request's `X-Forwarded-For` from "
        f"another of 131,072 /24s (a stride that visits each once): adaptation on "
        f"{tp['adaptive']['rps']:,.0f} req/s (runs {runs['adaptive']}), "
        f"off {tp['fixed']['rps']:,.0f} (runs {runs['fixed']}), "
        f"interleaved, {plan['tp_seconds']:.0f} s each; {tp['adaptive']['prefixes']:,} and "
        f"{tp['fixed']['prefixes']:,} distinct prefixes. Both count the challenge per prefix "
        "(the open-challenges signal); adaptation adds the read of two counters."
    )
    L.append("")
    return L


def _people(p: dict[str, Any], base: int) -> str:
    rows = [
        "**People** are the widget in headless "
        + p.get("browser", "Chromium")
        + " with the automation flags off (no "
        "`--enable-automation`, `--disable-blink-features=AutomationControlled`), one solve "
        "a page load and a prefix, the pointer resting on the checkbox 500 ms before the "
        "click; timed in the page from the frame's `open` message to the token callback.",
        "",
        "| who | solves | difficulty | median | p95 | scores |",
        "| --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for name, label in (
        ("quiet", "person, quiet prefix"),
        ("loaded", "person, prefix with 60 solves/min"),
        ("stock", "stock Playwright Chromium"),
    ):
        runs = [r for r in p.get(name, []) if r["ms"] is not None]
        if not runs:
            continue
        ms = [r["ms"] for r in runs]
        scores = ", ".join(sorted({str(r.get("score")) for r in runs}))
        rows.append(
            f"| {label} | {len(runs)} | {runs[0]['difficulty']:,} | "
            f"{fmt_ms(statistics.median(ms))} | {fmt_ms(percentile(ms, 0.95))} | {scores} |"
        )
    sl = p.get("slowed", {})
    rows.append("")
    rows.append(
        "**Slow devices are computed, not measured under a CPU quota** (DevTools CPU "
        "throttling does not slow a Worker). Per draw "
        f"({next(iter(sl.values()), {}).get('draws', 0):,} a case): each part's attempts from "
        "the puzzle's geometric distribution, dealt to the widget's pool of "
        f"{p.get('workers', '?')} workers as frame.js deals them, each at the worker's "
        f"measured warm rate ({p.get('worker_rate', 0) / 1e6:.2f} M/s, bench.solver's "
        "measurement, automation off) divided by the slowdown; plus the slowdown times one "
        "measured rest of a solve, drawn from the solves above (each one's time less its "
        "expected attempts at the warm rate: the requests, the messages and the fresh "
        f"workers' slow start; median {p.get('quiet_rest_ms', 0):.0f} ms quiet, "
        f"{p.get('loaded_rest_ms', 0):.0f} ms loaded). "
        + "; ".join(
            f"{k.replace('_', ' ')}: median {fmt_ms(v['median_ms'])}, p95 {fmt_ms(v['p95_ms'])} "
            f"at {v['difficulty']:,}"
            for k, v in sl.items()
        )
        + ". Before each loaded solve, the prefix is given the history of 60 solves a minute "
        "for five minutes, charged through the server's own SQLite counters at their times "
        "(60 decayed solves; its parent's share as the server's rules give it)."
    )
    return "\n".join(rows)


def _stores(lv: dict[str, Any]) -> list[str]:
    L = [
        f"**{lv['prefixes']:,} live prefixes** (one /24 each, {lv.get('issues', 1)} "
        "challenges issued, the fewest that make an entry): in the "
        "running server's own SQLite table, rows inserted in random key order as its flushes "
        "insert them; Redis and PostgreSQL, fresh on loopback, through their counters' own "
        "`issued` + `flush` (the path /1/challenge's counts take). "
        f"Quiet prefixes then asked the server: {', '.join(f'{q:,}' for q in lv['quiet'])}.",
        "",
        "| store | live | bytes | per prefix | fill | measured by |",
        "| --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for name, s in lv["stores"].items():
        if "bytes" not in s:
            L.append(f"| {name} | - | - | - | - | {s.get('error', '')[:100]} |")
            continue
        L.append(
            f"| {name} | {s['live']:,} | {s['bytes'] / 1e6:.1f} MB | "
            f"{s['bytes'] / max(1, s['live']):.0f} B | "
            f"{s['fill_seconds']:.1f} s | {s['measure']} |"
        )
    L.append("")
    return L


def chart(a: dict[str, Any], out: Path) -> list[str]:
    """The attacks over time: difficulty (log) and score of each token."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(12, 3.6), sharey=True)
    for ax, (key, label) in zip(
        axes,
        (
            ("single", "one /24"),
            ("rotate_v4", "256 /24s of a /16"),
            ("rotate_v6", "1,000 /48s of a /32"),
        ),
        strict=True,
    ):
        toks = a[key]["tokens"]
        ax.scatter(
            [t[0] for t in toks],
            [t[2] for t in toks],
            s=3,
            c=["#c0392b" if (t[3] or 0) >= 0.7 else "#2a6fdb" for t in toks],
        )
        ax.axhline(a["base"], color="#888", lw=0.8, ls="--")
        ax.axhline(a["cap"], color="#888", lw=0.8)
        ax.set_yscale("log")
        ax.set_xlabel("seconds")
        ax.set_title(f"{label}: {len(toks):,} tokens", fontsize=9)
    axes[0].set_ylabel("difficulty (expected hashes)")
    fig.suptitle("Attacker tokens: difficulty paid (red: score ≥ 0.7, blue: < 0.7)", fontsize=10)
    fig.tight_layout()
    fig.savefig(out / "abuse.png", dpi=110)
    plt.close(fig)
    return ["abuse.png"]
