"""kubernetes.py: the retry schedule of one API call on a fake clock, how calls are named, Retry-After, the error
text of urllib3, and the client's constants (tests written for the survivors of ./dev mutate)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

import pytest
from support.fake_clock import FakeClock

from ansible_collections.rollback.core.plugins.module_utils import kubernetes
from ansible_collections.rollback.core.plugins.module_utils.kubernetes import Kube, KubeError


def failing_kube(monkeypatch, errors, wait_timeout=30, answer=None, start=1000.0, pause=4.0):
    """A Kube whose every attempt fails with the next of ``errors`` (then answers ``answer``), on a fake clock,
    with a backoff of ``pause`` s pauses (the real one is jittered: its arguments are checked apart)."""
    clock = FakeClock(start)
    made = []
    monkeypatch.setattr(kubernetes, "backoff_delays", lambda *args: made.append(args) or iter([pause] * 1000))
    kube = Kube(dict(host="http://127.0.0.1:9", wait_timeout=wait_timeout), clock=clock, sleeper=clock.sleep)
    attempts = []

    def once(method, path, query, headers, body, what, timeout):
        attempts.append((what, round(timeout, 6)))
        if errors:
            raise errors.pop(0)
        return answer
    kube._once = once
    return kube, clock, attempts, made


def unavailable(**extra):
    return KubeError("reading deployment default/web failed: 503 unavailable", status=503, transient=True, **extra)


def test_a_get_is_retried_to_its_budget_with_a_shortened_last_pause(monkeypatch):
    kube, clock, attempts, made = failing_kube(monkeypatch, [unavailable() for _attempt in range(20)])
    with pytest.raises(KubeError) as error:
        kube.get("deployments", "default", "web")
    assert made == [(1000, 0.25, 4.0)]
    # 30 s budget: seven 4 s pauses, then 2 s are left: the last pause is shortened to leave LAST_TRY (0.2 s) for a
    # last attempt, which gets 0.2 s; then nothing is left.
    assert [round(pause, 6) for pause in clock.sleeps] == [4.0] * 7 + [1.8]
    assert [timeout for _what, timeout in attempts] == [30.0, 26.0, 22.0, 18.0, 14.0, 10.0, 6.0, 2.0, 0.2]
    assert error.value.msg == "reading deployment default/web failed: 503 unavailable (retried for 30s)"
    assert error.value.transient and error.value.status == 503


def test_the_default_budget_is_30_seconds():
    assert kubernetes.REQUEST_BUDGET == 30.0
    assert Kube(dict(host="http://127.0.0.1:9", wait_timeout=600)).budget == 30.0
    assert Kube(dict(host="http://127.0.0.1:9", wait_timeout=0.1)).budget == 1.0


def test_a_retry_after_is_waited_in_full_and_not_shortened(monkeypatch):
    # The server asked for 3 s: with 2.5 s left the call is not retried early (it would be refused again).
    kube, clock, attempts, _made = failing_kube(monkeypatch, [unavailable(retry_after=3.0)], wait_timeout=2.5)
    with pytest.raises(KubeError, match=r"\(retried for 0s\)$"):
        kube.get("deployments", "default", "web")
    assert clock.sleeps == [] and len(attempts) == 1


def test_an_answer_after_retries_is_returned(monkeypatch):
    kube, clock, attempts, _made = failing_kube(monkeypatch, [unavailable(), unavailable()], answer={"ok": 1})
    assert kube.get("deployments", "default", "web") == {"ok": 1}
    assert clock.sleeps == [4.0, 4.0] and len(attempts) == 3


def test_a_created_object_is_named_from_its_body_and_a_list_by_its_namespace(monkeypatch):
    kube, _clock, attempts, _made = failing_kube(monkeypatch, [], answer={})
    kube.create("deployments", "default", {"metadata": {"name": "web"}})
    kube.list("deployments", "default")
    names = [what for what, _timeout in attempts]
    assert names == ["creating deployment default/web", "listing deployments in default"]


def test_retry_after_is_read_capped_and_ignored_when_unreadable():
    class Response:
        def __init__(self, headers):
            self.headers = headers

        def getheaders(self):
            return self.headers
    assert kubernetes._retry_after(Response({"Retry-After": "3"})) == 3.0
    assert kubernetes._retry_after(Response({"Retry-After": "120"})) == 10.0
    assert kubernetes._retry_after(Response({})) == 0
    assert kubernetes._retry_after(Response(None)) == 0
    assert kubernetes._retry_after(Response({"Retry-After": "Wed, 21 Oct 2026 07:28:00 GMT"})) == 0  # ValueError
    assert kubernetes._retry_after(Response({"Retry-After": ["3"]})) == 0  # TypeError


def test_urllib3s_connection_prefix_is_cut_from_the_reason():
    error = OSError("<urllib3.connection.HTTPConnection object at 0x7f3a>: Failed to establish a new connection: "
                    "[Errno 111] Connection refused")
    assert kubernetes._reason(error) == "Failed to establish a new connection: [Errno 111] Connection refused"
    assert kubernetes._reason(OSError("timed out")) == "timed out"


def test_a_new_kube_error_has_no_retry_after():
    error = KubeError("x")
    assert (error.retry_after, error.transient, error.sent, error.status) == (0, False, True, None)


def test_an_error_inside_a_wait_deadline_propagates_and_the_deadline_is_restored():
    kube = Kube(dict(host="http://127.0.0.1:9"))
    with pytest.raises(ValueError):
        with kube.until(123.0):
            assert kube.deadline == 123.0
            raise ValueError("inside")
    assert kube.deadline is None


def test_the_client_is_imported_once_and_found():
    assert kubernetes.KUBERNETES_IMPORT_ERROR is None  # the kubernetes client is installed here
    kubernetes._Client.load()
    assert kubernetes._Client.loaded is True


def test_only_throttling_and_server_side_transient_statuses_are_retried():
    # 501 Not Implemented and the 4xx other than 429 are permanent; 500, 502, 503, 504 and 429 may pass.
    assert kubernetes.TRANSIENT_STATUS == frozenset([429, 500, 502, 503, 504])


# 0.45 - 0.25 is 0.2 (LAST_TRY) exactly in floating point: a wait's deadline 0.45 s away and pauses of 0.25 s put
# the retry decision on the boundary.
def test_a_retry_after_that_leaves_exactly_the_last_try_is_waited_and_the_call_tried_again(monkeypatch):
    errors = [unavailable(retry_after=0.25) for _attempt in range(5)]
    kube, clock, attempts, _made = failing_kube(monkeypatch, errors, start=0.0, pause=0.25)
    with kube.until(0.45):
        with pytest.raises(KubeError, match=r"\(retried for 0s\)$"):
            kube.get("deployments", "default", "web")
    assert clock.sleeps == [0.25]
    assert [timeout for _what, timeout in attempts] == [0.45, 0.2]


def test_a_wait_with_only_the_last_try_left_makes_that_one_try():
    # After the failure, 0.2 s (LAST_TRY) is left: the shortened pause would be 0 s, so no second attempt is made.
    kube, clock = stub_kube(Response(503, b'{"message": "unavailable"}'))
    with kube.until(0.2):
        with pytest.raises(KubeError, match=r"\(retried for 0s\)$"):
            kube.get("deployments", "default", "web")
    assert len(kube.api.calls) == 1 and clock.sleeps == []


def test_the_try_after_a_pause_that_leaves_exactly_the_last_try_is_the_last(monkeypatch):
    # 1000.5 - 1000.0 - 0.3 is 0.2 exactly, but 1000.5 - 1000.3 is 0.2 plus 5e-14: were that try not the last, a
    # fast failure would be retried once more after a pause of 5e-14 s.
    kube, clock, attempts, _made = failing_kube(monkeypatch, [unavailable() for _attempt in range(5)], pause=0.3)
    with kube.until(1000.5):
        with pytest.raises(KubeError, match=r"\(retried for 0s\)$"):
            kube.get("deployments", "default", "web")
    assert len(attempts) == 2 and [round(pause, 6) for pause in clock.sleeps] == [0.3]


class Response:
    """What ApiClient.call_api returns (urllib3's response, read by ``read()``)."""

    def __init__(self, status, data=b"", reason="", headers=None):
        self.status, self.data, self.reason, self.headers = status, data, reason, headers or {}

    def read(self):
        return self.data

    def getheaders(self):
        return self.headers


class StubApi:
    """The ApiClient of a Kube: each call_api raises or returns the next of ``outcomes`` (the last repeats)."""

    def __init__(self, *outcomes):
        self.outcomes, self.calls, self.headers = list(outcomes), [], []

    def param_serialize(self, method, path, query_params=None, header_params=None, body=None, auth_settings=None):
        return method, path, header_params, body, None

    def call_api(self, method, url, header_params=None, body=None, _request_timeout=None):
        self.calls.append((method, url, _request_timeout))
        self.headers.append(header_params)
        outcome = self.outcomes.pop(0) if len(self.outcomes) > 1 else self.outcomes[0]
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


def stub_kube(*outcomes, **params):
    clock = FakeClock(0.0)
    kube = Kube(dict(dict(host="http://127.0.0.1:9", wait_timeout=30), **params), clock=clock, sleeper=clock.sleep)
    kube.api = StubApi(*outcomes)
    return kube, clock


OK = Response(200, b'{"kind": "Deployment"}')


def test_a_refused_connection_is_not_retried_outside_a_wait_but_a_reset_one_is():
    """client-go rest/request.go: a GET is retried after net.IsConnectionReset / IsProbableEOF, not after a refused
    connection (urllib3's NewConnectionError is a ConnectTimeoutError: the request never left)."""
    from urllib3.exceptions import NewConnectionError, ProtocolError

    class Connection:  # urllib3 prefixes the message with the connection
        def __repr__(self):
            return "<urllib3.connection.HTTPConnection object at 0x7f3a>"

    refused = NewConnectionError(Connection(), "Failed to establish a new connection: [Errno 111] Connection refused")
    kube, clock = stub_kube(refused, OK)
    with pytest.raises(KubeError, match=r"unreachable: Failed to establish a new connection: \[Errno 111\] "
                                        r"Connection refused$") as error:
        kube.get("deployments", "default", "web")
    assert error.value.transient and not error.value.sent and len(kube.api.calls) == 1 and clock.sleeps == []
    reset = ProtocolError("Connection aborted.", ConnectionResetError(104, "Connection reset by peer"))
    kube, clock = stub_kube(reset, OK)
    assert kube.get("deployments", "default", "web") == {"kind": "Deployment"}
    assert len(kube.api.calls) == 2 and len(clock.sleeps) == 1


@pytest.mark.parametrize("write", ["patch", "create", "delete"])
def test_no_write_is_sent_again_after_a_5xx_but_each_after_a_429(write):
    """client-go rest/request.go: "We are not automatically retrying write operations" (5xx); a 429 was refused
    before any processing (API priority and fairness) and is retried whatever the verb."""
    call = {"patch": lambda kube: kube.patch("deployments", "default", "web", {"spec": {}}),
            "create": lambda kube: kube.create("deployments", "default", {"metadata": {"name": "web"}}),
            "delete": lambda kube: kube.delete("deployments", "default", "web")}[write]
    kube, clock = stub_kube(Response(503, b'{"message": "unavailable"}'), OK)
    with pytest.raises(KubeError, match="failed: 503 unavailable$"):
        call(kube)
    assert len(kube.api.calls) == 1 and clock.sleeps == []
    kube, clock = stub_kube(Response(429, b'{"message": "too many requests"}'), OK)
    assert call(kube) == {"kind": "Deployment"}
    assert len(kube.api.calls) == 2


def test_only_the_controller_reference_with_the_owners_uid_is_the_controller():
    """apimachinery metav1.IsControlledBy: GetControllerOf(controllee).UID == owner.GetUID(), uids compared equal."""
    def read(uid):  # each object read from the API holds its own string
        return json.loads('{"metadata": {"uid": "%s", "ownerReferences": [{"uid": "%s", "controller": true}]}}'
                          % (uid, uid))

    owner = read("5b2c")
    for uid in ("0aaa", "5b2b", "5b2d", "ffff"):  # sorting before or after the owner's uid is not the owner's
        assert not kubernetes.controlled_by(read(uid), owner)
    assert kubernetes.controlled_by(read("5b2c"), owner)


@pytest.mark.parametrize("status", [400, 401])
def test_an_answer_of_400_or_more_is_an_error_and_not_retried(status):
    """Kubernetes API conventions: 400 Bad Request (an invalid patch) and 401 Unauthorized are failures that do not
    pass by retrying; their Status message is the error."""
    kube, clock = stub_kube(Response(status, b'{"kind": "Status", "message": "the patch is invalid"}'), OK)
    with pytest.raises(KubeError, match="failed: %d the patch is invalid$" % status) as error:
        kube.get("deployments", "default", "web")
    assert error.value.status == status and not error.value.transient
    assert error.value.body == {"kind": "Status", "message": "the patch is invalid"}
    assert len(kube.api.calls) == 1 and clock.sleeps == []


def test_an_api_server_that_does_not_answer_in_time_is_retried_inside_a_wait():
    from urllib3.exceptions import ReadTimeoutError

    kube, clock = stub_kube(ReadTimeoutError(None, "/apis", "Read timed out."), OK)
    with kube.until(60.0):
        assert kube.get("deployments", "default", "web") == {"kind": "Deployment"}
    assert len(kube.api.calls) == 2 and len(clock.sleeps) == 1
    assert kube.api.calls[0][2] == 30.0, "one request gets at most REQUEST_BUDGET of the wait's 60 s"


def test_a_call_inside_a_wait_whose_deadline_has_passed_is_still_tried_once_with_the_shortest_timeout():
    kube, clock = stub_kube(Response(503, b'{"message": "unavailable"}'))
    with kube.until(-5.0):
        with pytest.raises(KubeError, match="failed: 503 unavailable"):
            kube.get("deployments", "default", "web")
    assert kube.api.calls == [("GET", "/apis/apps/v1/namespaces/default/deployments/web", 0.2)]
    assert clock.sleeps == []


def test_a_missing_kubernetes_client_is_one_clear_error(monkeypatch):
    import sys

    monkeypatch.setattr(kubernetes._Client, "loaded", False)
    monkeypatch.setitem(sys.modules, "kubernetes.client.api_client", None)  # import of it raises ImportError
    missing = r"^the kubernetes Python client is missing \(pip install kubernetes\): "
    with pytest.raises(kubernetes.RollbackError, match=missing):
        kubernetes._Client.load()


def test_a_list_is_sent_as_a_json_patch_and_a_dict_as_a_strategic_merge_patch_unless_told():
    """kubectl patch: --type strategic by default; a JSON patch (RFC 6902) is a list of operations."""
    kube, _clock = stub_kube(OK)
    kube.patch("deployments", "default", "web", [{"op": "replace", "path": "/spec/replicas", "value": 0}])
    kube.patch("deployments", "default", "web", {"spec": {"replicas": 0}})
    kube.patch("deployments", "default", "web", {"spec": {"replicas": 0}}, "merge")
    assert [headers["Content-Type"] for headers in kube.api.headers] == [
        "application/json-patch+json", "application/strategic-merge-patch+json", "application/merge-patch+json"]


def test_an_error_answer_that_is_not_json_is_named_by_its_reason():
    # A proxy or load balancer in front of the API server answers in HTML.
    kube, _clock = stub_kube(Response(502, b"<html><body>Bad Gateway</body></html>", reason="Bad Gateway"))
    with pytest.raises(KubeError, match="^reading deployment default/web failed: 502 Bad Gateway \\(retried") as error:
        kube.get("deployments", "default", "web")
    assert error.value.status == 502


def test_only_urllib3s_connection_prefix_is_cut_from_a_reason_that_holds_more():
    error = OSError("<urllib3.connection.HTTPSConnection object at 0x7f3a>: Failed to resolve 'api' "
                    "(<socket.gaierror>: [Errno -2] Name or service not known)")
    assert kubernetes._reason(error) == ("Failed to resolve 'api' (<socket.gaierror>: [Errno -2] Name or service "
                                         "not known)")
