"""The Kubernetes modules when the API misbehaves, and which API they talk to inside an AWX job pod.

A proxy in front of the simulator stops answering, answers 503 or drops connections on cue. A hung
API must end the task within wait_timeout + 5 s; transient errors inside a wait are retried, not fatal.
"""

import http.client
import importlib
import socket
import time
from http.server import BaseHTTPRequestHandler

import pytest
from support.http_servers import _Background
from support.inprocess import run
from support.kube import Simulator

# Needs no lab service (it starts what it talks to): ./dev test runs it beside the lab's suite (pyproject.toml).
pytestmark = pytest.mark.no_lab

# Imported before any timing: on a loaded machine importing the kubernetes client alone takes seconds of wall time,
# and what is timed here is how long the module waits for an API that does not answer.
importlib.import_module("ansible_collections.rollback.core.plugins.modules.rollout_undo")


class Proxy:
    """Forwards to the simulator. Once ``armed`` (the module's patch went through), GETs meet ``mode``: "hang"
    (never answered), or four times "unavailable" (503) or "reset" (connection dropped), then forwarded again."""

    def __init__(self, upstream_port):
        self.mode, self.armed, self.faults = "forward", False, 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _forward(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                if self.command == "PATCH":
                    outer.armed = True
                elif outer.armed and outer.mode in ("unavailable", "reset") and outer.faults >= 4:
                    outer.mode = "forward"  # the API server is back
                elif outer.armed and outer.mode != "forward":
                    outer.faults += 1
                    if outer.mode == "hang":
                        time.sleep(60)
                        return
                    if outer.mode == "reset":
                        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00"
                                                   b"\x00\x00")
                        self.close_connection = True
                        return
                    payload = b'{"kind":"Status","code":503,"message":"the server is currently unable"}'
                    self.send_response(503)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                upstream = http.client.HTTPConnection("127.0.0.1", upstream_port, timeout=30)
                headers = dict((k, v) for k, v in self.headers.items() if k.lower() not in ("host", "connection"))
                upstream.request(self.command, self.path, body=body, headers=headers)
                answer = upstream.getresponse()
                payload = answer.read()
                self.send_response(answer.status)
                for key, value in answer.getheaders():
                    if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                upstream.close()

            do_GET = do_PATCH = do_POST = do_PUT = do_DELETE = _forward  # noqa: N815

        self.background = _Background(Handler)
        self.url = self.background.url

    def stop(self):
        self.background.stop()


@pytest.fixture
def sim(tmp_path):
    simulator = Simulator(tmp_path, "faults")
    simulator.history("rollback-demo:1.0.1")
    yield simulator
    simulator.stop()


@pytest.fixture
def proxy(sim):
    front = Proxy(sim.server.server_address[1])
    yield front
    front.stop()


def undo(host, **extra):
    return dict(dict(platform="kubernetes", name="demo", host=host, api_key="kubesim-token", wait_timeout=30,
                     wait_sleep=0.2), **extra)


def test_an_api_that_accepts_and_never_answers_fails_within_wait_timeout_plus_5s():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)  # the kernel completes the handshakes; nothing ever reads or answers
    try:
        started = time.monotonic()
        result = run("rollout_undo", undo("http://127.0.0.1:%d" % listener.getsockname()[1], wait_timeout=2))
        elapsed = time.monotonic() - started
    finally:
        listener.close()
    assert result["failed"] and "Kubernetes API did not answer within" in result["msg"], result
    assert elapsed < 2 + 5, elapsed


def test_an_api_that_stops_answering_during_the_wait_fails_within_wait_timeout_plus_5s(sim, proxy):
    proxy.mode = "hang"
    started = time.monotonic()
    result = run("rollout_undo", undo(proxy.url, wait_timeout=3))
    elapsed = time.monotonic() - started
    assert result["failed"] and result["msg"].startswith(
        "timed out after 3s waiting for the rollout of deployment default/demo: Kubernetes API: reading deployment "
        "default/demo failed: Kubernetes API did not answer"), result["msg"]
    assert elapsed < 3 + 5, elapsed
    assert sim.image() == "rollback-demo:1.0.0", "the undo itself was applied"


@pytest.mark.parametrize("mode", ["unavailable", "reset"])
def test_transient_errors_inside_the_wait_are_retried(sim, proxy, mode):
    proxy.mode = mode
    result = run("rollout_undo", undo(proxy.url))
    assert not result["failed"] and result["changed"], result
    assert proxy.faults >= 4, "the faults really happened inside the wait"


def test_in_an_awx_job_pod_the_k8s_auth_variables_are_used(ansible_module, sim, tmp_path):
    """AWX's Kubernetes credential sets K8S_AUTH_HOST/API_KEY/VERIFY_SSL; the job pod has KUBERNETES_SERVICE_HOST
    and no token of its own. Neither the pod's account nor KUBECONFIG (another cluster here) may be used."""
    other = Simulator(tmp_path, "other")
    try:
        other.history("rollback-demo:1.0.1")
        env = {"KUBERNETES_SERVICE_HOST": "10.255.255.1", "KUBERNETES_SERVICE_PORT": "443",
               "K8S_AUTH_HOST": "http://127.0.0.1:%d" % sim.server.server_address[1],
               "K8S_AUTH_API_KEY": "kubesim-token", "K8S_AUTH_VERIFY_SSL": "False", "KUBECONFIG": other.kubeconfig}
        done = ansible_module("rollout_undo", dict(platform="kubernetes", name="demo", wait_timeout=30, wait_sleep=0.2),
                              env=env)
        assert not done.failed and done.result["changed"], done.stdout
        assert done.result["api_server"] == "http://127.0.0.1:%d (K8S_AUTH_HOST)" % sim.server.server_address[1]
        assert sim.image() == "rollback-demo:1.0.0" and other.image() == "rollback-demo:1.0.1"
    finally:
        other.stop()
