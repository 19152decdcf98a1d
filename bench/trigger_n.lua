-- wrk script: POST periodic triggers to /v1/executions until SLUICE_BENCH_LIMIT answers have come
-- back, split evenly over SLUICE_BENCH_THREADS wrk threads (default 2), then stop: a fixed number
-- of executions, as fast as the gateway takes them (up to -c more may be in flight at the stop).
-- Token from SLUICE_BENCH_TOKEN, job from SLUICE_BENCH_JOB. wrk itself runs until its -d or a
-- SIGINT: each thread that has its share writes a file in SLUICE_BENCH_DONE_DIR, and the caller
-- sends SIGINT once there is one per thread (bench/ceilings.sh).
local token = os.getenv("SLUICE_BENCH_TOKEN") or "bench-token"
local job = os.getenv("SLUICE_BENCH_JOB") or "bench-noop"
local limit = tonumber(os.getenv("SLUICE_BENCH_LIMIT") or "1000")
local threads = tonumber(os.getenv("SLUICE_BENCH_THREADS") or "2")
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer " .. token
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"job_name": "' .. job .. '", "job_execution_type": "1"}'

local done_dir = os.getenv("SLUICE_BENCH_DONE_DIR") or "/tmp"
local answered = 0
local share = math.ceil(limit / threads)
local count = 0

function setup(thread)
  count = count + 1
  thread:set("number", count)
end

function response(status, headers, body)
  answered = answered + 1
  if answered == share then
    local f = io.open(done_dir .. "/thread-" .. tostring(number), "w")
    if f then f:close() end
    wrk.thread:stop()
  end
end

function done(summary, latency, requests)
  local accepted = summary.requests - summary.errors.status
  io.write(string.format("accepted %d refused %d accepted/sec %.1f\n", accepted,
    summary.errors.status, accepted / (summary.duration / 1e6)))
end
