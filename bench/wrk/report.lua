-- Prints wrk's summary as one JSON line (prefixed BENCH_JSON) for bench/load.py to parse.
-- Latency percentiles are in microseconds. Loaded by the other scripts through dofile().

bench_ok = 0          -- responses the script judged successful
bench_seen = 0        -- responses seen by response()
bench_costs = {}      -- server-reported costs (ms), for the universal call

function bench_done(summary, latency, requests, extra)
  local e = summary.errors
  local parts = {
    string.format('"requests":%d', summary.requests),
    string.format('"duration_us":%d', summary.duration),
    string.format('"bytes":%d', summary.bytes),
    string.format('"err_connect":%d,"err_read":%d,"err_write":%d,"err_status":%d,"err_timeout":%d',
      e.connect, e.read, e.write, e.status, e.timeout),
    string.format('"lat_mean":%.1f,"lat_max":%d', latency.mean, latency.max),
  }
  for _, p in ipairs({50, 75, 90, 99, 99.9}) do
    table.insert(parts, string.format('"p%s":%d', tostring(p):gsub("%.", "_"), latency:percentile(p)))
  end
  if extra then
    for k, v in pairs(extra) do
      table.insert(parts, string.format('"%s":%s', k, v))
    end
  end
  io.write("BENCH_JSON {" .. table.concat(parts, ",") .. "}\n")
end

function done(summary, latency, requests)
  bench_done(summary, latency, requests, nil)
end
