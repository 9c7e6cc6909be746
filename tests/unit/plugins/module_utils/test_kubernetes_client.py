"""The Kube client against scripted local HTTP servers: timeouts, transient retries, writes, dry-run.

Outside a wait, what is retried follows client-go rest/request.go (IsNextRetry / checkWait): a GET
after a connection reset or an answer of 429 or 5xx; a write only after 429. Inside a wait, any
transient failure of a GET, connection refused included, until the wait's deadline.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import socket
import time

import pytest
from support.http_servers import QuietHandler, _Background, free_port

from ansible_collections.rollback.core.plugins.module_utils.kubernetes import Kube, KubeError


class Scripted:
    """Answers each request with the next (status, body) of the script; the last one repeats."""

    def __init__(self, *script):
        self.script, self.requests = list(script), []
        outer = self

        class Handler(QuietHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self):
                outer.requests.append((self.command, self.path, self.read_body()))
                status, body = outer.script.pop(0) if len(outer.script) > 1 else outer.script[0]
                self.reply_json(status, body)

            do_GET = do_PATCH = do_POST = do_DELETE = _answer  # noqa: N815

        self.background = _Background(Handler)
        self.host = self.background.url

    def close(self):
        self.background.stop()


@pytest.fixture
def scripted():
    made = []

    def make(*script):
        made.append(Scripted(*script))
        return made[-1]

    yield make
    for server in made:
        server.close()


def kube(host, wait_timeout=5, **extra):
    return Kube(dict(host=host, wait_timeout=wait_timeout), **extra)


DEPLOYMENT = {"metadata": {"name": "demo"}}
UNAVAILABLE = {"kind": "Status", "message": "the server is currently unable to handle the request"}


def test_get_retries_5xx_and_429_until_an_answer(scripted):
    server = scripted((503, UNAVAILABLE), (429, UNAVAILABLE), (200, DEPLOYMENT))
    assert kube(server.host).get("deployments", "default", "demo") == DEPLOYMENT
    assert len(server.requests) == 3


def test_get_gives_up_at_the_budget_with_the_last_error(scripted):
    server = scripted((503, UNAVAILABLE))
    started = time.monotonic()
    with pytest.raises(KubeError) as failed:
        kube(server.host, wait_timeout=1).get("deployments", "default", "demo")
    assert time.monotonic() - started < 2.5
    assert failed.value.msg.startswith("reading deployment default/demo failed: 503 the server is currently unable")
    assert "(retried for " in failed.value.msg and failed.value.transient


def test_a_write_answered_5xx_is_not_sent_again_but_429_is(scripted):
    server = scripted((500, {"message": "etcdserver: request timed out"}), (200, DEPLOYMENT))
    with pytest.raises(KubeError, match="patching deployment default/demo failed: 500 etcdserver"):
        kube(server.host).patch("deployments", "default", "demo", {"spec": {"replicas": 0}})
    assert len(server.requests) == 1, "the server may have applied it"
    limited = scripted((429, UNAVAILABLE), (200, DEPLOYMENT))
    assert kube(limited.host).patch("deployments", "default", "demo", {"spec": {"replicas": 0}}) == DEPLOYMENT
    assert len(limited.requests) == 2


def test_client_errors_are_not_retried(scripted):
    server = scripted((404, {"message": 'deployments.apps "demo" not found'}))
    with pytest.raises(KubeError) as failed:
        kube(server.host).get("deployments", "default", "demo")
    assert failed.value.status == 404 and not failed.value.transient and len(server.requests) == 1


def test_a_hung_api_server_ends_within_the_budget():
    """Accepts the connection, never answers: each request times out, and the retries end by the budget."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    try:
        started = time.monotonic()
        with pytest.raises(KubeError) as failed:
            kube("http://127.0.0.1:%d" % listener.getsockname()[1], wait_timeout=2).get("deployments", "ns", "x")
        assert 1.5 < time.monotonic() - started < 3.5
        assert "Kubernetes API did not answer within" in failed.value.msg
    finally:
        listener.close()


def test_a_refused_connection_is_reported_at_once_outside_a_wait_and_retried_inside():
    client = kube("http://127.0.0.1:%d" % free_port(), wait_timeout=20)
    started = time.monotonic()
    with pytest.raises(KubeError) as failed:
        client.patch("deployments", "ns", "x", {"spec": {}})
    assert time.monotonic() - started < 1 and "Kubernetes API unreachable" in failed.value.msg
    with client.until(time.monotonic() + 1):
        with pytest.raises(KubeError) as failed:
            client.get("deployments", "ns", "x")
    assert time.monotonic() - started > 0.5 and "(retried for" in failed.value.msg


def test_inside_a_wait_calls_end_by_the_wait_deadline(scripted):
    server = scripted((503, UNAVAILABLE))
    client = kube(server.host, wait_timeout=30)
    started = time.monotonic()
    with client.until(started + 1):
        with pytest.raises(KubeError):
            client.get("deployments", "default", "demo")
    assert time.monotonic() - started < 2.5


def test_dry_run_writes_carry_dry_run_all_and_reads_do_not(scripted):
    server = scripted((200, DEPLOYMENT))
    client = kube(server.host, dry_run=True)
    client.get("deployments", "default", "demo")
    client.patch("deployments", "default", "demo", {"spec": {"replicas": 0}}, "merge", sub="scale")
    client.delete("configmaps", "default", "c", preconditions={"uid": "u"})
    (get, _p, _b), (patch, patch_path, _pb), (delete, delete_path, body) = server.requests
    assert (get, patch, delete) == ("GET", "PATCH", "DELETE")
    assert server.requests[0][1] == "/apis/apps/v1/namespaces/default/deployments/demo"
    assert patch_path == "/apis/apps/v1/namespaces/default/deployments/demo/scale?dryRun=All"
    assert delete_path == "/api/v1/namespaces/default/configmaps/c?dryRun=All"
    assert json.loads(body)["preconditions"] == {"uid": "u"}


def test_dry_run_failure_names_it(scripted):
    server = scripted((403, {"message": 'deployments.apps "demo" is forbidden: User "ci" cannot patch'}))
    with pytest.raises(KubeError, match=r"patching deployment default/demo \(server-side dry run\) failed: 403"):
        kube(server.host, dry_run=True).patch("deployments", "default", "demo", [])
