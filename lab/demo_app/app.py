"""The lab's demo app: one HTTP contract for every release and target type.

GET /health -> {"status": ..., "version": ...} with the release's status code
and delay; GET / and GET /api/items answer 200 with the version, except that a
release's ``error_percent`` of the /api/ requests answer 500; GET /metrics is
the Prometheus text format (requests by handler and code, a latency histogram,
both labelled with the version). A release is described by release.json beside
this file (or --release): version, health_status, delay_ms, error_percent.
lab/demo_app/handler.sh serves the same contract and metrics in the busybox images.
"""

import argparse
import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# Bucket bounds in seconds, printed as Go's strconv 'g' format prints them (as the official clients do).
# 0.2 is runbook 001's p95 trigger (200 ms): histogram_quantile is exact at a bucket bound.
BUCKETS = ("0.005", "0.01", "0.025", "0.05", "0.1", "0.2", "0.25", "0.5", "1", "2.5", "5", "10")
HANDLERS = ("/health", "/metrics", "/api/items", "/")


def load_release(path):
    with open(path) as handle:
        release = json.load(handle)
    release.setdefault("health_status", 200)
    release.setdefault("delay_ms", 0)
    release.setdefault("error_percent", 0)
    return release


def handler_label(path):
    """The route a request path belongs to (a bounded label set, as a router would give)."""
    path = path.split("?")[0]
    if path in HANDLERS:
        return path
    return "/api/items" if path.startswith("/api/") else "other"


class Metrics:
    """Counters and a latency histogram per handler, rendered in the Prometheus text format 0.0.4."""

    def __init__(self, version):
        self.version = version
        self.lock = threading.Lock()
        self.requests = {}
        self.durations = {}
        self.api_requests = 0

    def fail_next_api_request(self, error_percent):
        """Deterministic share of failures: the n-th /api/ request fails when n*p/100 crosses an integer."""
        with self.lock:
            self.api_requests += 1
            count = self.api_requests
        return count * error_percent // 100 > (count - 1) * error_percent // 100

    def observe(self, handler, code, seconds):
        with self.lock:
            self.requests[(handler, code)] = self.requests.get((handler, code), 0) + 1
            buckets, total, count = self.durations.get(handler, ([0] * len(BUCKETS), 0.0, 0))
            buckets = [n + (seconds <= float(bound)) for n, bound in zip(buckets, BUCKETS)]
            self.durations[handler] = (buckets, total + seconds, count + 1)

    def render(self):
        with self.lock:
            requests = sorted(self.requests.items())
            durations = sorted(self.durations.items())
        version = self.version
        lines = ["# HELP http_requests_total HTTP requests served, by handler and status code.",
                 "# TYPE http_requests_total counter"]
        lines += ['http_requests_total{handler="%s",code="%d",version="%s"} %d' % (handler, code, version, n)
                  for (handler, code), n in requests]
        lines += ["# HELP http_request_duration_seconds Time to serve an HTTP request.",
                  "# TYPE http_request_duration_seconds histogram"]
        for handler, (buckets, total, count) in durations:
            labels = 'handler="%s",version="%s"' % (handler, version)
            lines += ['http_request_duration_seconds_bucket{%s,le="%s"} %d' % (labels, bound, n)
                      for bound, n in zip(BUCKETS, buckets)]
            lines += ['http_request_duration_seconds_bucket{%s,le="+Inf"} %d' % (labels, count),
                      "http_request_duration_seconds_sum{%s} %.6f" % (labels, total),
                      "http_request_duration_seconds_count{%s} %d" % (labels, count)]
        lines += ["# HELP demo_release_info The demo app release this process serves.",
                  "# TYPE demo_release_info gauge", 'demo_release_info{version="%s"} 1' % version]
        return "\n".join(lines) + "\n"


def make_handler(release, metrics):
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's naming
            started = time.monotonic()
            handler = handler_label(self.path)
            content_type = "application/json"
            if handler == "/metrics":
                status, payload = 200, metrics.render().encode()
                content_type = "text/plain; version=0.0.4; charset=utf-8"
            else:
                time.sleep(release["delay_ms"] / 1000.0)
                if handler == "/health":
                    status = release["health_status"]
                    body = {"status": "ok" if status == 200 else "error", "version": release["version"]}
                elif handler == "/api/items" and metrics.fail_next_api_request(release["error_percent"]):
                    status, body = 500, {"error": "internal error", "version": release["version"]}
                else:
                    status = 200
                    body = {"version": release["version"], "items": ["a", "b", "c"]}
                payload = json.dumps(body).encode()
            # Counted before the answer: a client that got its answer finds the request in its next scrape.
            metrics.observe(handler, status, time.monotonic() - started)
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args):
            pass

    return Handler


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    here = os.path.dirname(os.path.realpath(__file__))
    parser.add_argument("--release", default=os.path.join(here, "release.json"))
    args = parser.parse_args()
    release = load_release(args.release)
    server = ThreadingHTTPServer((args.host, args.port), make_handler(release, Metrics(release["version"])))
    server.serve_forever()


if __name__ == "__main__":
    main()
