-- wrk script for POST /events: every request carries events no request sent before.
-- [WRK_DELAY_MS=n] wrk ... -s bench/wrk_vayu.lua URL -- TEMPLATE KEY RUN_ID
-- WRK_DELAY_MS paces each connection: it waits that long before each of its requests.
-- TEMPLATE holds the body's parts separated by NUL bytes (bench/corpus.py
-- templated_vayu_batch); joining them with a fresh tag gives every event a new ref, at the
-- cost of one table.concat per request. done() prints one JSON line for bench_http.py.

local threads = {}
local counter = 0

function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

function init(args)
  local file = assert(io.open(args[1], "rb"))
  local text = file:read("*a")
  file:close()
  parts = {}
  local start = 1
  while true do
    local nul = string.find(text, "\0", start, true)
    if nul == nil then
      table.insert(parts, string.sub(text, start))
      break
    end
    table.insert(parts, string.sub(text, start, nul - 1))
    start = nul + 1
  end
  prefix = args[3] .. "t" .. tid .. "n"
  wrk.method = "POST"
  wrk.headers["Authorization"] = "Bearer " .. args[2]
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  counter = counter + 1
  return wrk.format(nil, "/events", nil, table.concat(parts, prefix .. counter))
end

local delay_ms = tonumber(os.getenv("WRK_DELAY_MS") or "0")
if delay_ms > 0 then
  -- Defined only when pacing: with delay() present wrk goes through a timer per request.
  function delay()
    return delay_ms
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests":%d,"duration_us":%d,"bytes":%d,"errors":%d,"status_errors":%d,' ..
    '"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean))
end
