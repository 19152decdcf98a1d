-- wrk script: GET the status of one execution (its id in SLUICE_BENCH_ID).
-- Token from SLUICE_BENCH_TOKEN (or SLUICE_DEV_TOKEN).
local token = os.getenv("SLUICE_BENCH_TOKEN") or os.getenv("SLUICE_DEV_TOKEN") or "bench-token"
wrk.method = "GET"
wrk.headers["Authorization"] = "Bearer " .. token
wrk.path = "/v1/executions/" .. (os.getenv("SLUICE_BENCH_ID") or "none")
