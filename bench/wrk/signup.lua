-- A sign-up per virtual user: POST /1/challenge, solve its SHA-256 puzzles here (the site's
-- difficulty is 16 attempts a part, so the load generator's side stays cheap), POST /1/solve,
-- then POST /siteverify of the token. A sign-up counts only when siteverify answers success.
-- Run with as many threads as connections: each thread is one virtual user at a time, with
-- one X-Forwarded-For address for its three calls (a new /24 for every sign-up).
-- Settings come from env:
--   BENCH_SITEKEY, BENCH_SECRET, BENCH_HOST   the site
--   BENCH_XFF_PREFIXES  how many /24s the virtual users come from (11.0.0.7, 11.0.1.7, ...)
dofile(os.getenv("BENCH_LUA_DIR") .. "/report.lua")

local bit = require("bit")
local band, bor, bxor, bnot = bit.band, bit.bor, bit.bxor, bit.bnot
local rshift, lshift, ror, tobit = bit.rshift, bit.lshift, bit.ror, bit.tobit

local K = {
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
}
local H = { 0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
            0x5be0cd19 }
local w = {}

-- The first 32-bit word of SHA-256 of a 44-byte message (one block), as an unsigned number.
local function first_word(msg)
  for i = 0, 10 do
    local a, b, c, d = msg:byte(i * 4 + 1, i * 4 + 4)
    w[i] = tobit(bor(lshift(a, 24), lshift(b, 16), lshift(c, 8), d))
  end
  w[11] = tobit(0x80000000)
  w[12], w[13], w[14], w[15] = 0, 0, 0, 44 * 8
  for i = 16, 63 do
    local x, y = w[i - 15], w[i - 2]
    local s0 = bxor(ror(x, 7), ror(x, 18), rshift(x, 3))
    local s1 = bxor(ror(y, 17), ror(y, 19), rshift(y, 10))
    w[i] = tobit(w[i - 16] + s0 + w[i - 7] + s1)
  end
  local a, b, c, d, e, f, g, h = H[1], H[2], H[3], H[4], H[5], H[6], H[7], H[8]
  for i = 0, 63 do
    local s1 = bxor(ror(e, 6), ror(e, 11), ror(e, 25))
    local ch = bxor(band(e, f), band(bnot(e), g))
    local t1 = tobit(h + s1 + ch + K[i + 1] + w[i])
    local s0 = bxor(ror(a, 2), ror(a, 13), ror(a, 22))
    local maj = bxor(band(a, b), band(a, c), band(b, c))
    local t2 = tobit(s0 + maj)
    h, g, f, e, d, c, b, a = g, f, e, tobit(d + t1), c, b, a, tobit(t1 + t2)
  end
  local v = tobit(a + H[1])
  if v < 0 then v = v + 4294967296 end
  return v
end

local function solve(salt, parts, threshold)
  local nonces = {}
  for i = 0, parts - 1 do
    local prefix = salt .. string.format("%04x", i)
    local n = 0
    while first_word(prefix .. string.format("%08x", n)) >= threshold do
      n = n + 1
    end
    nonces[#nonces + 1] = tostring(n)
  end
  return "[" .. table.concat(nonces, ",") .. "]"
end

local threads = {}

function setup(thread)
  thread:set("thread_index", #threads)
  table.insert(threads, thread)
end

function init(args)
  sitekey = os.getenv("BENCH_SITEKEY")
  secret = os.getenv("BENCH_SECRET")
  host = os.getenv("BENCH_HOST")
  prefixes = tonumber(os.getenv("BENCH_XFF_PREFIXES") or "131072")
  -- BENCH_XFF_OFFSET: the first user's number, so that consecutive runs on one store
  -- come from other /24s than the runs before them
  user = (thread_index or 0) + tonumber(os.getenv("BENCH_XFF_OFFSET") or "0")
  signups, refused = 0, 0
  ch_body = string.format('{"sitekey":"%s","host":"%s"}', sitekey, host)
  new_user()
end

function new_user()
  local i = (user * 40503) % prefixes
  user = user + 64
  xff = string.format("%d.%d.%d.7", 11 + math.floor(i / 65536), math.floor(i / 256) % 256,
                      i % 256)
  state = "challenge"
end

function request()
  if state == "challenge" then
    return wrk.format("POST", "/1/challenge",
      { ["Content-Type"] = "application/json", ["X-Forwarded-For"] = xff }, ch_body)
  elseif state == "solve" then
    return wrk.format("POST", "/1/solve",
      { ["Content-Type"] = "application/json", ["X-Forwarded-For"] = xff }, solve_body)
  end
  return wrk.format("POST", "/siteverify",
    { ["Content-Type"] = "application/x-www-form-urlencoded", ["X-Forwarded-For"] = xff },
    sv_body)
end

function response(status, headers, body)
  if state == "challenge" then
    local text = body:match('"challenge"%s*:%s*"([^"]+)"')
    local salt = body:match('"salt"%s*:%s*"(%x+)"')
    local parts = tonumber(body:match('"parts"%s*:%s*(%d+)'))
    local threshold = tonumber(body:match('"threshold"%s*:%s*(%d+)'))
    if status ~= 200 or not text or not salt or not parts or not threshold then
      refused = refused + 1
      new_user()
      return
    end
    solve_body = string.format('{"challenge":"%s","nonces":%s}', text,
                               solve(salt, parts, threshold))
    state = "solve"
  elseif state == "solve" then
    local token = body:match('"token"%s*:%s*"(P1_[^"]+)"')
    if status ~= 200 or not token then
      refused = refused + 1
      new_user()
      return
    end
    sv_body = "secret=" .. secret .. "&response=" .. token
    state = "verify"
  else
    if status == 200 and body:find('"success":true', 1, true) then
      signups = signups + 1
    else
      refused = refused + 1
    end
    new_user()
  end
end

function done(summary, latency, requests)
  local ok, bad = 0, 0
  for _, t in ipairs(threads) do
    ok = ok + (t:get("signups") or 0)
    bad = bad + (t:get("refused") or 0)
  end
  bench_done(summary, latency, requests, { ok = ok, signups = ok, refused = bad })
end
