-- wrk script: PUT (or DELETE) a fixed set of keys exactly once, split across wrk's threads, then stop.
-- Environment: KV_MODE=put|delete, KV_PREFIX (key prefix), KV_COUNT (keys 0..COUNT-1), KV_SIZE (value bytes),
-- KV_THREADS (must equal wrk -t), KV_SKIP_EVERY (delete mode: skip keys with i % N == 0, i.e. keep them),
-- KV_ONLY_EVERY (delete mode: delete only keys with i % N == 0),
-- KV_DONE_DIR: each thread creates a file there when all its answers are in (wrk's main thread sleeps for the whole
-- -d duration; the caller sends SIGINT once every thread is done).
local threads = {}
local next_id = 0

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

-- delete mode: skip keys with i % KV_SKIP_EVERY == 0, or delete only keys with i % KV_ONLY_EVERY == 0
function wanted(i)
  if skip_every > 0 and i % skip_every == 0 then return false end
  if only_every > 0 and i % only_every ~= 0 then return false end
  return true
end

function init(args)
  mode = os.getenv("KV_MODE") or "put"
  prefix = os.getenv("KV_PREFIX") or "k"
  local count = tonumber(os.getenv("KV_COUNT") or "1000")
  local nthreads = tonumber(os.getenv("KV_THREADS") or "1")
  skip_every = tonumber(os.getenv("KV_SKIP_EVERY") or "0")
  only_every = tonumber(os.getenv("KV_ONLY_EVERY") or "0")
  first = math.floor(count * id / nthreads)
  last = math.floor(count * (id + 1) / nthreads)
  body = string.rep("v", tonumber(os.getenv("KV_SIZE") or "1024"))
  next_i = first
  sent = 0
  answered = 0
  fillers = 0
  bad = 0
  -- the number of requests this thread owes
  share = 0
  for i = first, last - 1 do
    if mode ~= "delete" or wanted(i) then share = share + 1 end
  end
end

function request()
  while next_i < last do
    local i = next_i
    next_i = next_i + 1
    if mode == "put" then
      sent = sent + 1
      return wrk.format("PUT", "/kv/" .. prefix .. i, nil, body)
    elseif wanted(i) then
      sent = sent + 1
      return wrk.format("DELETE", "/kv/" .. prefix .. i)
    end
  end
  -- every key is out; idle connections ask for something harmless until the last answers arrive
  return wrk.format("GET", "/healthz")
end

function response(status, headers, body)
  if body == "ok\n" then
    -- a filler /healthz answer. Connections are serial (no pipelining), so once every key is sent and hundreds of
    -- fillers came back, no PUT/DELETE answer is still due (wrk drops a thread's first answer from response() at
    -- times, so counting answers alone can wait forever).
    fillers = fillers + 1
  else
    answered = answered + 1
    if status >= 400 then bad = bad + 1 end
  end
  if answered >= share or (sent >= share and fillers >= 500) then
    local dir = os.getenv("KV_DONE_DIR")
    if dir then
      local f = io.open(dir .. "/thread" .. id, "w")
      if f then f:close() end
    end
    wrk.thread:stop()
  end
end

function done(summary, latency, requests)
  local bad_total = 0
  for _, t in ipairs(threads) do bad_total = bad_total + (t:get("bad") or 0) end
  io.write(string.format(
    '{"requests":%d,"seconds":%.3f,"rps":%.1f,"p50_us":%d,"p99_us":%d,"p999_us":%d,"http_errors":%d,"socket_errors":%d}\n',
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50), latency:percentile(99), latency:percentile(99.9), bad_total,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
