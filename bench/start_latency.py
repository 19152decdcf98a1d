#!/usr/bin/env python3
"""Trigger-to-job-start latency of the executions of some jobs, read back through the API.

Waits (at most --wait seconds) until no execution of the jobs is still TRIGGERED, then pages
through GET /v1/executions?job_name=JOB&page_size=500 for each and computes start_time - create_time from
the RFC 3339 fields (millisecond resolution; create_time is stamped by the gateway, start_time by
the worker when it claims the execution, both on this machine's clock).

Prints one JSON object: executions, started, p50/p99/max in milliseconds, how long the wait for
the backlog took, and jobs started per second while the worker had work (started / (last start -
first start)), over all the jobs given.
"""

import argparse
import datetime
import http.client
import json
import time
import urllib.parse


def parse_time(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def percentile(sorted_values, p):
    if not sorted_values:
        return None
    rank = min(len(sorted_values), max(1, int(-(-len(sorted_values) * p // 100))))
    return sorted_values[rank - 1]


def read_job(get, job, delays, starts):
    """Appends each started execution's delay and start; returns how many executions job has."""
    count, token = 0, ""
    while True:
        query = {"job_name": job, "page_size": 500}
        if token:
            query["page_token"] = token
        page = get(query)
        for e in page.get("job_execution", []):
            count += 1
            if e.get("start_time") and e.get("create_time"):
                started = parse_time(e["start_time"])
                starts.append(started)
                delays.append(started - parse_time(e["create_time"]))
        token = page.get("next_page_token", "")
        if not token:
            return count


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--job", required=True, action="append", help="repeat for several jobs")
    parser.add_argument("--wait", type=float, default=60.0,
                        help="seconds to wait for the worker to start every execution")
    args = parser.parse_args()

    target = urllib.parse.urlsplit(args.url)
    conn = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
    headers = {"Authorization": "Bearer " + args.token}

    def get(query):
        conn.request("GET", "/v1/executions?" + urllib.parse.urlencode(query), headers=headers)
        response = conn.getresponse()
        payload = response.read()
        if response.status != 200:
            raise SystemExit(f"start_latency: GET {query} answered {response.status}: {payload!r}")
        return json.loads(payload)

    waited_from = time.monotonic()
    deadline = waited_from + args.wait
    pending = list(args.job)
    while pending and time.monotonic() < deadline:
        page = get({"job_name": pending[0], "status": "TRIGGERED", "page_size": 1})
        if page.get("job_execution"):
            time.sleep(0.5)
        else:
            pending.pop(0)
    waited = time.monotonic() - waited_from

    delays, starts, count = [], [], 0
    for job in args.job:
        count += read_job(get, job, delays, starts)
    delays.sort()
    ms = lambda v: None if v is None else round(v * 1000, 1)
    span = (max(starts) - min(starts)) if starts else 0
    print(json.dumps({
        "executions": count,
        "started": len(delays),
        "p50_ms": ms(percentile(delays, 50)),
        "p99_ms": ms(percentile(delays, 99)),
        "max_ms": ms(delays[-1] if delays else None),
        "waited_s": round(waited, 1),
        "started_per_s": round(len(delays) / span, 1) if span > 0 else None,
    }))


if __name__ == "__main__":
    main()
