-- wrk script: POST periodic triggers to /v1/executions with the dev token.
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("SLUICE_DEV_TOKEN") or "bench-token")
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"job_name": "bench-noop", "job_execution_type": "1"}'
