"""Small real HTTP servers for tests and benchmarks: the demo app, slow endpoints, webhook receivers."""

import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def free_ports(count):
    """``count`` different ports no socket holds now: each stays bound until all are chosen (a port closed at once
    may come back from the next ``bind`` to port 0)."""
    with contextlib.ExitStack() as stack:
        socks = [stack.enter_context(socket.socket()) for _port in range(count)]
        for sock in socks:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in socks]


def free_port():
    return free_ports(1)[0]


class DemoApp:
    """The lab's demo app (lab/demo_app/app.py) for one release, on a free port."""

    def __init__(self, release):
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        release_file = os.path.join(REPO, "lab", "demo_app", "releases", release + ".json")
        self.process = subprocess.Popen([sys.executable, os.path.join(REPO, "lab", "demo_app", "app.py"),
                                         "--port", str(self.port), "--release", release_file])
        for _attempt in range(100):
            try:
                urllib.request.urlopen(self.url + "/", timeout=5)
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("demo app %s did not start" % release)

    def stop(self):
        self.process.terminate()
        self.process.wait()


class QuietHandler(BaseHTTPRequestHandler):
    """A request handler for the stand-ins: no access log on stderr, the body read, JSON answered."""

    def log_message(self, *args):
        pass

    def read_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def reply(self, status, body=b"ok", content_type=None):
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def reply_json(self, status, body):
        self.reply(status, json.dumps(body).encode(), "application/json")


class _Server(ThreadingHTTPServer):
    # The default listen backlog (5) drops bursts of concurrent connections.
    request_queue_size = 128


class _Background:
    def __init__(self, handler):
        self.server = _Server(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def slow_server(delay_s):
    """Answers every GET with 200 after ``delay_s`` seconds."""

    class Handler(QuietHandler):
        def do_GET(self):  # noqa: N802
            time.sleep(delay_s)
            self.reply(200)

    return _Background(Handler)


def webhook_receiver():
    """A Slack-style webhook or status-page API: records each POST (path, headers, JSON body) in ``.messages``."""
    messages = []

    class Handler(QuietHandler):
        def do_POST(self):  # noqa: N802
            body = json.loads(self.read_body() or b"null")
            messages.append(dict(path=self.path, headers=dict(self.headers), body=body))
            self.reply(200)

    background = _Background(Handler)
    background.messages = messages
    return background
