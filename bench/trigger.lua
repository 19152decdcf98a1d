-- wrk script: POST periodic triggers to /v1/executions.
-- Token from SLUICE_BENCH_TOKEN (or SLUICE_DEV_TOKEN), job from SLUICE_BENCH_JOB.
-- With SLUICE_BENCH_LIMIT set: a fixed number of executions, as fast as the gateway takes them.
-- Each of SLUICE_BENCH_THREADS wrk threads (default 2) stops after its share of the answers
-- (up to -c more may be in flight then) and writes a file in SLUICE_BENCH_DONE_DIR; wrk itself
-- runs until its -d or a SIGINT, which the caller sends once there is a file per thread
-- (bench/ceilings.sh).
local token = os.getenv("SLUICE_BENCH_TOKEN") or os.getenv("SLUICE_DEV_TOKEN") or "bench-token"
local job = os.getenv("SLUICE_BENCH_JOB") or "bench-noop"
local limit = tonumber(os.getenv("SLUICE_BENCH_LIMIT") or "")
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer " .. token
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"job_name": "' .. job .. '", "job_execution_type": "1"}'

if limit then
  local threads = tonumber(os.getenv("SLUICE_BENCH_THREADS") or "2")
  local done_dir = os.getenv("SLUICE_BENCH_DONE_DIR") or "/tmp"
  local share = math.ceil(limit / threads)
  local answered = 0
  local count = 0

  function setup(thread)
    count = count + 1
    thread:set("number", count)
  end

  -- Defined only with a limit: a response() callback costs wrk time on every answer.
  function response(status, headers, body)
    answered = answered + 1
    if answered == share then
      local f = io.open(done_dir .. "/thread-" .. tostring(number), "w")
      if f then f:close() end
      wrk.thread:stop()
    end
  end
end

-- Accepted (2xx) triggers per second: wrk's Requests/sec also counts 429s and 503s.
function done(summary, latency, requests)
  local accepted = summary.requests - summary.errors.status
  io.write(string.format("accepted %d refused %d accepted/sec %.1f\n", accepted,
    summary.errors.status, accepted / (summary.duration / 1e6)))
end
