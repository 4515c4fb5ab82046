-- POSTs one body per request, each taken once from a pre-built file (one body a line), so
-- that single-use solutions and tokens are each sent exactly once: when the file runs out
-- the thread stops (BENCH_REUSE=1 cycles through it instead, for bodies that may repeat).
-- Settings come from env:
--   BENCH_BODIES  file of bodies          BENCH_PATH   request path
--   BENCH_CTYPE   Content-Type            BENCH_HEADER one extra "Name: value" header
--   BENCH_OK      substring of a successful response body
--   BENCH_COST    "1": collect the body's "cost":"N.NNms" values (the universal call)
--   BENCH_DELAY   milliseconds each connection waits between requests (rate limiting)
--   BENCH_XFF_PREFIXES  N > 0: each request carries X-Forwarded-For from another of N /24s
--                 (11.0.0.7, 11.0.1.7, ...), visited in a stride that jumps between /16s;
--                 BENCH_XFF_OFFSET where in that walk to start
--   BENCH_SAVE    file to which each pass token the server answers ("token" or
--                 "generated_pass_UUID") is appended, one a line: tokens issued by the
--                 server itself, for a siteverify load
dofile(os.getenv("BENCH_LUA_DIR") .. "/report.lua")

local threads = {}

function setup(thread)
  thread:set("thread_index", #threads)
  table.insert(threads, thread)
end

function init(args)
  bodies = {}
  for line in io.lines(os.getenv("BENCH_BODIES")) do
    if #line > 0 then table.insert(bodies, line) end
  end
  -- With several threads, each takes every n-th body, so none is sent twice.
  step = tonumber(os.getenv("BENCH_THREADS") or "1")
  nexti = (thread_index or 0) + 1
  used = 0
  wrapped = 0
  path = os.getenv("BENCH_PATH")
  headers = { ["Content-Type"] = os.getenv("BENCH_CTYPE") }
  local extra = os.getenv("BENCH_HEADER")
  if extra and #extra > 0 then
    local name, value = extra:match("^([^:]+):%s*(.*)$")
    headers[name] = value
  end
  ok_marker = os.getenv("BENCH_OK") or ""
  want_cost = os.getenv("BENCH_COST") == "1"
  delay_ms = tonumber(os.getenv("BENCH_DELAY") or "0")
  reuse = os.getenv("BENCH_REUSE") == "1"
  xff_prefixes = tonumber(os.getenv("BENCH_XFF_PREFIXES") or "0")
  xff_next = tonumber(os.getenv("BENCH_XFF_OFFSET") or "0")
  bench_ok = 0
  bench_seen = 0
  bench_costs = {}
  local save = os.getenv("BENCH_SAVE")
  saved = (save and #save > 0) and io.open(save .. "." .. (thread_index or 0), "w") or nil
  if saved then saved:setvbuf("line") end  -- wrk may end without closing the file
end

function request()
  if nexti > #bodies then
    nexti = ((thread_index or 0) % step) + 1
    wrapped = wrapped + 1
    if not reuse then
      wrk.thread:stop()
    end
  end
  local body = bodies[nexti]
  nexti = nexti + step
  used = used + 1
  if xff_prefixes > 0 then
    -- an odd stride walks every one of a power-of-two count before repeating
    local i = (xff_next * 40503) % xff_prefixes
    xff_next = xff_next + 1
    headers["X-Forwarded-For"] = string.format(
      "%d.%d.%d.7", 11 + math.floor(i / 65536), math.floor(i / 256) % 256, i % 256)
  end
  return wrk.format("POST", path, headers, body)
end

if os.getenv("BENCH_DELAY") then
  function delay()
    return delay_ms
  end
end

function response(status, hdrs, body)
  bench_seen = bench_seen + 1
  if status < 300 and (ok_marker == "" or string.find(body, ok_marker, 1, true)) then
    bench_ok = bench_ok + 1
  end
  if saved then
    local t = body:match('"token"%s*:%s*"(P1_[^"]+)"')
      or body:match('"generated_pass_UUID"%s*:%s*"(P1_[^"]+)"')
    if t then saved:write(t, "\n") end
  end
  if want_cost then
    local c = body:match('"cost"%s*:%s*"([%d%.]+)ms"')
    if c then table.insert(bench_costs, tonumber(c)) end
  end
end

function done(summary, latency, requests)
  local ok, seen, sent, wraps, costs = 0, 0, 0, 0, {}
  for _, t in ipairs(threads) do
    ok = ok + (t:get("bench_ok") or 0)
    seen = seen + (t:get("bench_seen") or 0)
    sent = sent + (t:get("used") or 0)
    wraps = wraps + (t:get("wrapped") or 0)
    local tc = t:get("bench_costs")
    if tc then for _, c in ipairs(tc) do table.insert(costs, c) end end
  end
  table.sort(costs)
  local extra = { ok = ok, seen = seen, sent = sent, wrapped = wraps, costs_n = #costs }
  if #costs > 0 then
    extra.cost_p50 = string.format("%.4f", costs[math.max(1, math.floor(#costs * 0.5 + 0.5))])
    extra.cost_p99 = string.format("%.4f", costs[math.max(1, math.floor(#costs * 0.99 + 0.5))])
  end
  bench_done(summary, latency, requests, extra)
end
