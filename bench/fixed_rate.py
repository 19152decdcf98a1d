#!/usr/bin/env python3
"""POST /v1/executions at a fixed rate over keep-alive connections; print latency percentiles.

Open-loop and free of coordinated omission: request i is due at t0 + i/RATE whatever happened to
earlier ones, and its latency is measured from that due time, not from when a connection became
free to send it. A stalled server therefore shows up in the percentiles as the queue it caused.
Debian 12 packages neither wrk2 nor vegeta, and h2load's --rate sets how fast connections are
opened, not requests, so this driver is ours.

Prints one JSON object: sent, accepted (2xx), refused by status, achieved rate, latency
percentiles in milliseconds, how late the driver itself sent (its own lag, to judge whether the
driver kept up), and the id of one accepted execution.
"""

import argparse
import http.client
import itertools
import json
import threading
import time
import urllib.parse


def percentile(sorted_values, p):
    """Nearest-rank percentile of an ascending list; p in [0, 100]."""
    if not sorted_values:
        return None
    rank = max(1, -(-len(sorted_values) * p // 100))  # ceil without floats for whole p
    rank = min(len(sorted_values), int(rank))
    return sorted_values[rank - 1]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="gateway base URL, http://HOST:PORT")
    parser.add_argument("--token", required=True)
    parser.add_argument("--job", required=True)
    parser.add_argument("--rate", type=float, required=True, help="requests per second")
    parser.add_argument("--duration", type=float, required=True, help="seconds")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--timeout", type=float, default=15.0, help="per request, seconds")
    args = parser.parse_args()

    target = urllib.parse.urlsplit(args.url)
    body = json.dumps({"job_name": args.job, "job_execution_type": "1"}).encode()
    headers = {
        "Authorization": "Bearer " + args.token,
        "Content-Type": "application/json",
        "Connection": "keep-alive",
    }
    total = int(args.rate * args.duration)
    due_index = itertools.count()  # next() is atomic under the GIL
    lock = threading.Lock()
    latencies, lags, statuses, some_id = [], [], {}, []

    def connect():
        conn = http.client.HTTPConnection(target.hostname, target.port, timeout=args.timeout)
        conn.connect()
        return conn

    def run(conn, t0):
        my_latencies, my_lags, my_statuses = [], [], {}
        while True:
            i = next(due_index)
            if i >= total:
                break
            due = t0 + i / args.rate
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            sent = time.perf_counter()
            try:
                if conn is None:
                    conn = connect()
                conn.request("POST", "/v1/executions", body=body, headers=headers)
                response = conn.getresponse()
                payload = response.read()
                status = response.status
                if response.will_close:
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException) as e:
                status = type(e).__name__
                if conn is not None:
                    conn.close()
                conn = None
                payload = b""
            done = time.perf_counter()
            my_latencies.append(done - due)
            my_lags.append(sent - due)
            my_statuses[status] = my_statuses.get(status, 0) + 1
            if status == 200 and not some_id:
                some_id.append(json.loads(payload)["id"])
        with lock:
            latencies.extend(my_latencies)
            lags.extend(my_lags)
            for k, v in my_statuses.items():
                statuses[k] = statuses.get(k, 0) + v
        if conn is not None:
            conn.close()

    # Connections are open before the clock starts, so no handshake lands in the figures.
    conns = [connect() for _ in range(args.connections)]
    t0 = time.perf_counter() + 0.05
    threads = [threading.Thread(target=run, args=(c, t0)) for c in conns]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0

    latencies.sort()
    lags.sort()
    ms = lambda v: None if v is None else round(v * 1000, 2)
    accepted = statuses.get(200, 0)
    print(json.dumps({
        "target_rate": args.rate,
        "sent": len(latencies),
        "accepted": accepted,
        "refused": {str(k): v for k, v in statuses.items() if k != 200},
        "achieved_rate": round(len(latencies) / elapsed, 1),
        "p50_ms": ms(percentile(latencies, 50)),
        "p99_ms": ms(percentile(latencies, 99)),
        "p999_ms": ms(percentile(latencies, 99.9)),
        "max_ms": ms(latencies[-1] if latencies else None),
        "driver_lag_p99_ms": ms(percentile(lags, 99)),
        "id": some_id[0] if some_id else "",
    }))


if __name__ == "__main__":
    main()
