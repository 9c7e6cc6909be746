"""The controller loop survives the API's refusals, as the upstream controllers do. Driven in-process, one
controller pass at a time (no thread, no timing): the race it pins once killed the controller thread in CI
(a pod started while its namespace was terminating; its Started event was refused)."""

from support.kube import Settings
from kubesim.cluster import Cluster
from kubesim.resources import RESOURCES
from kubesim.store import ApiError

NAMESPACES = RESOURCES[("", "v1", "namespaces")]
PODS = RESOURCES[("", "v1", "pods")]
EVENTS = RESOURCES[("", "v1", "events")]


def doomed_pod(cluster):
    """A pod in a namespace that is then deleted: the namespace is Terminating while its pod still exists."""
    cluster.api.create(NAMESPACES, None, {"metadata": {"name": "doomed"}})
    pod = cluster.api.create(PODS, "doomed", {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "doomed"},
        "spec": {"containers": [{"name": "c", "image": "x:1"}]}})
    cluster.api.delete(NAMESPACES, None, "doomed")
    return pod


def test_an_event_refused_in_a_terminating_namespace_is_dropped_not_raised():
    """client-go tools/record/event.go recordToSink: a StatusError from the server (AlreadyExists, or the cause
    NamespaceTerminating) is logged "Server rejected event ... (will not retry!)" and dropped; the controller
    that recorded it carries on."""
    cluster = Cluster(Settings())
    pod = doomed_pod(cluster)
    assert cluster.recorder.event(pod, "Normal", "Started", "Started container c", "kubelet") is None
    assert not cluster.api.store.list(EVENTS, "doomed")[0]


def test_the_same_event_again_counts_on_the_first_a_new_message_is_an_event_of_its_own():
    """client-go's EventCorrelator (tools/record/events_cache.go): an event whose object, reason and message repeat
    updates the one already written (count + 1, lastTimestamp), found by that key; another message is another
    event. The simulator finds it by its name, made from the same key."""
    cluster = Cluster(Settings())
    pod = cluster.api.create(PODS, "default", {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default"},
        "spec": {"containers": [{"name": "c", "image": "x:1"}]}})
    for message in ("Back-off pulling image", "Back-off pulling image", "Started container c"):
        cluster.recorder.event(pod, "Normal", "BackOff", message, "kubelet")
    events = dict((e["message"], e) for e in cluster.api.store.list(EVENTS, "default")[0]
                  if e["involvedObject"]["uid"] == pod["metadata"]["uid"])
    assert sorted(events) == ["Back-off pulling image", "Started container c"]
    assert events["Back-off pulling image"]["count"] == 2 and events["Started container c"]["count"] == 1


class Refusing:
    """A controller whose first sync meets the API's refusal (a 403 NamespaceTerminating, then a 500)."""

    def __init__(self, errors):
        self.errors = list(errors)
        self.calls = 0

    def sync(self):
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)


def test_a_refused_write_does_not_stop_the_other_controllers(capsys):
    """replica_set.go manageReplicas: a create refused with cause NamespaceTerminating is not an error; every
    other error goes to utilruntime.HandleError and the key is requeued: the workers keep running."""
    cluster = Cluster(Settings())
    terminating = ApiError(403, "Forbidden", "unable to create new content in namespace doomed", {
        "causes": [{"reason": "NamespaceTerminating"}]})
    refusing = Refusing([terminating, ApiError(500, "InternalError", "etcd is down")])
    after = Refusing([])
    cluster.controllers = [refusing, after]
    cluster.run_once()
    cluster.run_once()
    assert after.calls >= 2 and refusing.calls >= 2
    err = capsys.readouterr().err
    assert "500 etcd is down" in err and "doomed" not in err
