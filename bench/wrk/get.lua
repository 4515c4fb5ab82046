-- Plain GET of the URL's path; counts 2xx answers and prints a JSON summary at the end.
dofile(os.getenv("BENCH_LUA_DIR") .. "/report.lua")

local threads = {}

-- BENCH_HEADER: one extra "Name: value" request header (e.g. Accept-Encoding: gzip).
local extra = os.getenv("BENCH_HEADER")
if extra and #extra > 0 then
  local name, value = extra:match("^([^:]+):%s*(.*)$")
  wrk.headers[name] = value
end

function setup(thread)
  table.insert(threads, thread)
end

function response(status, hdrs, body)
  bench_seen = bench_seen + 1
  if status < 300 then bench_ok = bench_ok + 1 end
end

function done(summary, latency, requests)
  local ok, seen = 0, 0
  for _, t in ipairs(threads) do
    ok = ok + (t:get("bench_ok") or 0)
    seen = seen + (t:get("bench_seen") or 0)
  end
  bench_done(summary, latency, requests, { ok = ok, seen = seen })
end
