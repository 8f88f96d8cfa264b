-- wrk script: a steady GET/PUT mix on the keys kept after eviction (i % KV_KEEP_EVERY == 0, i < KV_COUNT).
-- Environment: KV_PREFIX, KV_COUNT, KV_KEEP_EVERY, KV_SIZE, KV_PUT_PERCENT (default 10), KV_FIRST (keys from
-- KV_FIRST to KV_FIRST + KV_COUNT - 1, default 0).
local threads = {}
local next_id = 0

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

function init(args)
  prefix = os.getenv("KV_PREFIX") or "k"
  count = tonumber(os.getenv("KV_COUNT") or "1000")
  first = tonumber(os.getenv("KV_FIRST") or "0")
  keep_every = tonumber(os.getenv("KV_KEEP_EVERY") or "10")
  put_percent = tonumber(os.getenv("KV_PUT_PERCENT") or "10")
  body = string.rep("w", tonumber(os.getenv("KV_SIZE") or "1024"))
  kept = math.floor((count - 1) / keep_every) + 1
  math.randomseed(1000 + id)
  bad = 0
  missing = 0
end

function request()
  local key = "/kv/" .. prefix .. (first + math.random(0, kept - 1) * keep_every)
  if math.random(1, 100) <= put_percent then
    return wrk.format("PUT", key, nil, body)
  end
  return wrk.format("GET", key)
end

function response(status, headers, body)
  if status == 404 then missing = missing + 1 elseif status >= 400 then bad = bad + 1 end
end

function done(summary, latency, requests)
  local bad_total, missing_total = 0, 0
  for _, t in ipairs(threads) do
    bad_total = bad_total + (t:get("bad") or 0)
    missing_total = missing_total + (t:get("missing") or 0)
  end
  io.write(string.format(
    '{"requests":%d,"seconds":%.3f,"rps":%.1f,"p50_us":%d,"p99_us":%d,"p999_us":%d,"http_errors":%d,"not_found":%d,"socket_errors":%d}\n',
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50), latency:percentile(99), latency:percentile(99.9), bad_total, missing_total,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
