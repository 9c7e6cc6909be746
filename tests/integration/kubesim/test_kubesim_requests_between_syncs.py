"""A request is answered between two controller syncs, not after every pass of a wake-up. On a cluster the API
server answers while the controllers work: they are other processes, reading their informers' caches. The simulator
held its store across up to 50 passes of a wake-up; in a 100-Deployment bench setup each GET waited 0.5-1.3 s."""

import threading
import time

from support.kube import Settings
from kubesim.cluster import Cluster
from kubesim.resources import RESOURCES

NAMESPACES = RESOURCES[("", "v1", "namespaces")]
PASSES = 10


class Busy:
    """Changes the store at each sync (so the wake-up goes on to another pass), for PASSES passes."""

    def __init__(self, cluster):
        self.cluster, self.calls = cluster, 0

    def sync(self):
        if self.calls < PASSES:
            self.calls += 1
            time.sleep(0.05)
            self.cluster.api.create(NAMESPACES, None, {"metadata": {"name": "busy-%d" % self.calls}})


def test_a_get_is_answered_between_two_syncs_of_a_busy_wake_up():
    cluster = Cluster(Settings())
    busy = Busy(cluster)
    cluster.controllers = [busy]
    passes = threading.Thread(target=cluster.run_once)
    passes.start()
    try:
        deadline = time.monotonic() + 10
        while busy.calls == 0:
            assert time.monotonic() < deadline, "the controller never synced"
            time.sleep(0.001)
        assert cluster.api.store.get(NAMESPACES, None, "default")["metadata"]["name"] == "default"
        answered_after = busy.calls
    finally:
        passes.join()
    assert busy.calls == PASSES, "the wake-up ran its passes to the end"
    assert answered_after < PASSES, "the GET waited for every pass of the wake-up (%d)" % answered_after
