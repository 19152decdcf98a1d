-- wrk script: POST signed GitHub push deliveries to /hooks/github.
-- SLUICE_BENCH_HOOK_BODY and SLUICE_BENCH_HOOK_SIG (sha256=...) come from bench/run.sh. Every
-- request is a new delivery (ids <thread>-<time>-<n>) unless SLUICE_BENCH_HOOK_DELIVERY is set,
-- in which case every request redelivers that one.
local body = os.getenv("SLUICE_BENCH_HOOK_BODY")
local sig = os.getenv("SLUICE_BENCH_HOOK_SIG")
local fixed = os.getenv("SLUICE_BENCH_HOOK_DELIVERY")
local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end

function init(args)
  prefix = tostring(tid) .. "-" .. tostring(os.time()) .. "-"
  n = 0
end

function request()
  n = n + 1
  local headers = {
    ["Content-Type"] = "application/json",
    ["X-GitHub-Event"] = "push",
    ["X-GitHub-Delivery"] = fixed or (prefix .. n),
    ["X-Hub-Signature-256"] = sig,
  }
  return wrk.format("POST", "/hooks/github", headers, body)
end

function done(summary, latency, requests)
  local accepted = summary.requests - summary.errors.status
  io.write(string.format("accepted %d refused %d accepted/sec %.1f\n", accepted,
    summary.errors.status, accepted / (summary.duration / 1e6)))
end
