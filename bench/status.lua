-- wrk script: GET the status of one execution (its id in SLUICE_BENCH_ID).
wrk.method = "GET"
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("SLUICE_DEV_TOKEN") or "bench-token")
wrk.path = "/v1/executions/" .. (os.getenv("SLUICE_BENCH_ID") or "none")
