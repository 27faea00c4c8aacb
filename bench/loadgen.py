"""A bounded load generator for /search on loopback, run as its own process.

python -m bench.loadgen URL QUERIES.json SECONDS CONCURRENCY -> JSON latencies on stdout.
"""

from __future__ import annotations

import json
import sys
import threading
import time
import urllib.request

MAX_REQUESTS = 100_000  # hard cap whatever the duration


def main() -> int:
    url, queries_path, seconds, concurrency = (
        sys.argv[1],
        sys.argv[2],
        float(sys.argv[3]),
        int(sys.argv[4]),
    )
    if not url.startswith(("http://127.", "http://localhost")):
        raise SystemExit("loopback only")
    with open(queries_path, encoding="utf-8") as fh:
        queries = json.load(fh)
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    deadline = time.monotonic() + seconds
    counter = [0]

    def worker(offset: int) -> None:
        i = offset
        while time.monotonic() < deadline:
            with lock:
                if counter[0] >= MAX_REQUESTS:
                    return
                counter[0] += 1
            body = json.dumps({"query": queries[i % len(queries)], "top_k": 5}).encode()
            req = urllib.request.Request(url, body, {"content-type": "application/json"})
            started = time.perf_counter()
            try:
                with urllib.request.urlopen(req, timeout=30) as resp:
                    resp.read()
                    ok = resp.status == 200
            except OSError:
                ok = False
            elapsed = (time.perf_counter() - started) * 1000
            with lock:
                if ok:
                    latencies.append(elapsed)
                else:
                    errors[0] += 1
            i += concurrency

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(concurrency)]
    begun = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.monotonic() - begun
    sys.stdout.write(json.dumps({"latencies_ms": latencies, "errors": errors[0], "seconds": wall}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
