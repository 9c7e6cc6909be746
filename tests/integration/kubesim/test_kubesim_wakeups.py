"""Each controller wakes on its own time, as each upstream controller has its own work queue (client-go
workqueue AddAfter: the HPA controller's resync period re-queues HPAs, not every Deployment). A change to the
store wakes every controller, as it reaches every informer. Before, a pass at the HPA period ran every controller
over every object: 100 idle Deployments with one HPA cost the simulator 7 % of a core (0.68 s of CPU in 10 s,
now 0.01 s); the lab's simulator slowed the benches the longer it ran."""

import time

from support.kube import Settings
from kubesim.cluster import Cluster
from kubesim.resources import RESOURCES

NAMESPACES = RESOURCES[("", "v1", "namespaces")]


class Periodic:
    """Asks for a pass every ``period`` seconds, as the HPA controller does."""

    def __init__(self, cluster, period):
        self.cluster, self.period, self.calls = cluster, period, 0

    def sync(self):
        self.calls += 1
        self.cluster.requeue_at(time.monotonic() + self.period)


class Counting:
    """Syncs only when woken; asks for nothing."""

    def __init__(self):
        self.calls = 0

    def sync(self):
        self.calls += 1


def wait_for(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "not reached in %s s" % timeout
        time.sleep(0.01)


def test_a_controller_due_wakes_alone_and_a_change_wakes_every_controller():
    cluster = Cluster(Settings())
    periodic, counting = Periodic(cluster, 0.02), Counting()
    cluster.controllers = [periodic, counting]
    cluster.start()
    try:
        wait_for(lambda: periodic.calls >= 20)
        assert counting.calls == 1, "only the first pass (a start is a change) reached the idle controller"
        cluster.api.create(NAMESPACES, None, {"metadata": {"name": "woken"}})
        wait_for(lambda: counting.calls >= 2)
        # A change may come while the thread is mid-pass: at most one more pass, never one per period.
        calls = counting.calls
        wait_for(lambda: periodic.calls >= 60)
        assert counting.calls <= calls + 1
    finally:
        cluster.stop()


def test_a_due_time_is_kept_for_the_controller_that_asked():
    cluster = Cluster(Settings())
    periodic, counting = Periodic(cluster, 60.0), Counting()
    cluster.controllers = [periodic, counting]
    cluster.run_once()
    assert set(cluster._due) == {periodic}, "the idle controller asked for nothing"
    due = cluster._due[periodic]
    cluster.run_once(only=[counting])
    assert cluster._due[periodic] == due and periodic.calls == 1, "a pass of another controller keeps its time"
