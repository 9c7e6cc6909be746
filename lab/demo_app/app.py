"""The lab's demo app: one HTTP contract for every release and target type.

GET /health -> {"status": ..., "version": ...} with the release's status code
and delay; GET / and GET /api/items answer 200 with the version. A release is
described by release.json beside this file (or --release): version,
health_status, delay_ms.
"""

import argparse
import json
import os
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def load_release(path):
    with open(path) as handle:
        release = json.load(handle)
    release.setdefault("health_status", 200)
    release.setdefault("delay_ms", 0)
    return release


def make_handler(release):
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's naming
            time.sleep(release["delay_ms"] / 1000.0)
            if self.path.split("?")[0] == "/health":
                status = release["health_status"]
                body = {"status": "ok" if status == 200 else "error", "version": release["version"]}
            else:
                status = 200
                body = {"version": release["version"], "items": ["a", "b", "c"]}
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
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
    server = ThreadingHTTPServer((args.host, args.port), make_handler(load_release(args.release)))
    server.serve_forever()


if __name__ == "__main__":
    main()
