-- wrk script: POST periodic triggers to /v1/executions.
-- Token from SLUICE_BENCH_TOKEN (or SLUICE_DEV_TOKEN), job from SLUICE_BENCH_JOB.
local token = os.getenv("SLUICE_BENCH_TOKEN") or os.getenv("SLUICE_DEV_TOKEN") or "bench-token"
local job = os.getenv("SLUICE_BENCH_JOB") or "bench-noop"
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer " .. token
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"job_name": "' .. job .. '", "job_execution_type": "1"}'

-- Accepted (2xx) triggers per second: wrk's Requests/sec also counts 429s and 503s.
function done(summary, latency, requests)
  local accepted = summary.requests - summary.errors.status
  io.write(string.format("accepted %d refused %d accepted/sec %.1f\n", accepted,
    summary.errors.status, accepted / (summary.duration / 1e6)))
end
