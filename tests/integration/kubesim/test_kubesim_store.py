"""The store hands its objects to the controllers as an informer's lister does: read without copying
(client-go tools/cache: a lister returns pointers into the shared cache, "must not be modified"), copied only
where a controller keeps or changes one. Driven in-process, one controller pass at a time (no thread, no timing)."""

import marshal

from support.kube import Settings
import kubesim.store
from kubesim import ownership
from kubesim.cluster import Cluster
from kubesim.resources import RESOURCES

NAMESPACES = RESOURCES[("", "v1", "namespaces")]
PODS = RESOURCES[("", "v1", "pods")]
DEPLOYMENTS = RESOURCES[("apps", "v1", "deployments")]
REPLICASETS = RESOURCES[("apps", "v1", "replicasets")]


def cluster_with_namespace():
    cluster = Cluster(Settings())
    cluster.api.create(NAMESPACES, None, {"metadata": {"name": "t"}})
    return cluster


def pod(cluster, name, labels):
    return cluster.api.create(PODS, "t", {"apiVersion": "v1", "kind": "Pod",
                                          "metadata": {"name": name, "namespace": "t", "labels": labels},
                                          "spec": {"containers": [{"name": "c", "image": "x:1"}]}})


def deployment(cluster, name):
    cluster.api.create(DEPLOYMENTS, "t", {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": "t"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}},
                              "spec": {"containers": [{"name": "c", "image": "x:1"}]}}}})


def test_a_listing_without_copies_keeps_what_it_read_when_the_object_is_written():
    cluster = cluster_with_namespace()
    pod(cluster, "p", {"app": "a"})
    read = cluster.api.store.list(PODS, "t", copy=False)[0][0]
    changed = cluster.api.store.get(PODS, "t", "p")
    changed["metadata"]["labels"] = {"app": "b"}
    cluster.api.store.update(PODS, "t", "p", changed)
    assert read["metadata"]["labels"] == {"app": "a"}
    assert cluster.api.store.list(PODS, "t", copy=False)[0][0]["metadata"]["labels"] == {"app": "b"}


def test_what_a_controller_claims_is_its_own_copy():
    """controller_ref_manager.go ClaimObject: the owned objects are the controller's to change; the store's
    object stays as written."""
    cluster = cluster_with_namespace()
    deployment(cluster, "web")
    cluster.run_once()
    owner = cluster.api.store.get(DEPLOYMENTS, "t", "web")
    claimed = ownership.claim(cluster.api, REPLICASETS, owner, cluster.api.store.list(REPLICASETS, "t", copy=False)[0])
    assert len(claimed) == 1
    claimed[0]["spec"]["replicas"] = 7
    assert cluster.api.store.list(REPLICASETS, "t", copy=False)[0][0]["spec"]["replicas"] == 1


class CountingMarshal:
    """marshal, counting the copies kubesim.store.clone makes."""

    def __init__(self):
        self.copies = 0

    def dumps(self, value):
        self.copies += 1
        return marshal.dumps(value)

    def loads(self, data):
        return marshal.loads(data)


def copies_in_one_pass(monkeypatch, count):
    cluster = cluster_with_namespace()
    for number in range(count):
        deployment(cluster, "d%d" % number)
    cluster.run_once()
    counter = CountingMarshal()
    monkeypatch.setattr(kubesim.store, "marshal", counter)
    cluster.run_once()
    monkeypatch.undo()
    return counter.copies


def test_a_controller_pass_copies_in_proportion_to_the_objects_not_their_square(monkeypatch):
    """Each Deployment's sync reads every ReplicaSet of its namespace (deployment_controller.go
    getReplicaSetsForDeployment lists the namespace, then claims); copying them all made a pass over 100
    Deployments take seconds. Four times the Deployments: about four times the copies, not sixteen."""
    few = copies_in_one_pass(monkeypatch, 10)
    many = copies_in_one_pass(monkeypatch, 40)
    assert many < 6 * few, (few, many)
