// @cap.js/server's generate/validate under Node, in-process, for bench/primitives.py.
// Usage: node cap_peer.js MODULE_DIR STATE_DIR SECONDS REPEATS
// Prints one JSON line: ops/s (median over REPEATS timed windows) for createChallenge,
// redeemChallenge (the solution check, which also stores a token) and validateToken.
"use strict";
const path = require("node:path");
const crypto = require("node:crypto");
const [moduleDir, stateDir, secondsArg, repeatsArg] = process.argv.slice(2);
const Cap = require(path.join(moduleDir, "node_modules", "@cap.js", "server"));
const seconds = Number(secondsArg || "1");
const repeats = Number(repeatsArg || "3");

// Cap's own challenge derivation (index.js prng), used to solve the pre-solved challenge.
function prng(seed, length) {
  function fnv1a(str) {
    let hash = 2166136261;
    for (let i = 0; i < str.length; i++) {
      hash ^= str.charCodeAt(i);
      hash += (hash << 1) + (hash << 4) + (hash << 7) + (hash << 8) + (hash << 24);
    }
    return hash >>> 0;
  }
  let state = fnv1a(seed);
  let result = "";
  function next() {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return state >>> 0;
  }
  while (result.length < length) result += next().toString(16).padStart(8, "0");
  return result.substring(0, length);
}

function solve(token, c, s, d) {
  const out = [];
  for (let i = 1; i <= c; i++) {
    const salt = prng(`${token}${i}`, s);
    const target = prng(`${token}${i}d`, d);
    let n = 0;
    while (!crypto.createHash("sha256").update(salt + n).digest("hex").startsWith(target)) n++;
    out.push(n);
  }
  return out;
}

// ops/s of `fn` over REPEATS windows of SECONDS each; `fn` returns false when it has run out.
async function timed(fn) {
  const rates = [];
  for (let r = 0; r < repeats; r++) {
    let n = 0;
    const start = process.hrtime.bigint();
    const end = start + BigInt(Math.round(seconds * 1e9));
    let now = start;
    let more = true;
    while (now < end && more) {
      for (let k = 0; k < 50 && more; k++) {
        more = (await fn()) !== false;
        if (more) n++;
      }
      now = process.hrtime.bigint();
    }
    if (n > 0) rates.push(n / (Number(now - start) / 1e9));
  }
  rates.sort((a, b) => a - b);
  return { median: rates.length ? rates[Math.floor(rates.length / 2)] : 0, runs: rates };
}

async function redeemLoop(cap, ch, data, solutions, tokens) {
  return timed(async () => {
    cap.config.state.challengesList[ch.token] = data;
    const res = await cap.redeemChallenge({ token: ch.token, solutions });
    if (!res.success) throw new Error("redeem failed: " + res.message);
    tokens.push(res.token);
  });
}

async function main() {
  // Defaults: in-memory challenges, tokens kept in memory and written to a state file.
  const cap = new Cap({ tokens_store_path: path.join(stateDir, "tokensList.json") });
  await new Promise((r) => setTimeout(r, 50)); // let the constructor's file load settle

  const create = await timed(() => cap.createChallenge());

  // One challenge at the defaults (c=50, s=32, d=4), solved once, then put back before
  // each redeem (redeem deletes it): every redeem does the full check and stores a token.
  const solveStart = process.hrtime.bigint();
  const ch = await cap.createChallenge();
  const data = cap.config.state.challengesList[ch.token];
  const solutions = solve(ch.token, ch.challenge.c, ch.challenge.s, ch.challenge.d);
  const solveSeconds = Number(process.hrtime.bigint() - solveStart) / 1e9;
  const tokens = [];
  const redeem = await redeemLoop(cap, ch, data, solutions, tokens);
  // Each token validated once (validation deletes it), until they run out.
  let ti = 0;
  const validate = await timed(async () => {
    if (ti >= tokens.length) return false;
    const res = await cap.validateToken(tokens[ti++]);
    if (!res.success) throw new Error("validate failed");
  });
  const validated = ti;

  // The same check with the token file off (noFSState): Cap's fastest in-memory setting.
  const mem = new Cap({ noFSState: true });
  mem.config.state.challengesList[ch.token] = data;
  const memTokens = [];
  const redeemMemory = await redeemLoop(mem, ch, data, solutions, memTokens);
  process.stdout.write(JSON.stringify({
    version: require(path.join(moduleDir, "node_modules", "@cap.js", "server", "package.json")).version,
    node: process.version,
    settings: { challengeCount: 50, challengeSize: 32, challengeDifficulty: 4, store: "memory + tokens file" },
    expected_hashes: 50 * 16 ** 4,
    create, redeem, redeem_memory: redeemMemory, validate, solve_seconds: solveSeconds, tokens_validated: validated,
  }) + "\n");
  process.exit(0);
}

main().catch((e) => { console.error(e); process.exit(1); });
