"""Nodes, the scheduler and the kubelet, simulated: pods go Pending -> Running -> Ready over time.

The scheduler binds each unscheduled pod to a node (the one its DaemonSet node affinity names, else the
least loaded). The kubelet then "pulls" the images: after the image's delay (Settings.delay) the
containers run and, unless the image is never-ready, the pod turns Ready (conditions and container
statuses as the kubelet's status manager writes them, pkg/kubelet/status/generate.go). A broken image
fails to pull: ErrImagePull then ImagePullBackOff as the container's waiting reason, with the kubelet's
events (Failed, BackOff). A deleted pod stays Terminating until its containers stop: a running container
exits Settings.stop_delay after SIGTERM, capped by the grace period (the kubelet's killContainer), a
container that never ran at once; then the kubelet removes the pod.
"""

import time

from . import meta
from .resources import RESOURCES
from .store import clone, now, parse_time

PODS = RESOURCES[("", "v1", "pods")]
NODES = RESOURCES[("", "v1", "nodes")]
BACKOFF = 0.5  # seconds from ErrImagePull to ImagePullBackOff (the kubelet's first image back-off is 10 s)


def node_object(name):
    return {"metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux"}},
            "spec": {}, "status": {
                "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                                "message": "kubelet is posting ready status", "lastHeartbeatTime": now(),
                                "lastTransitionTime": now()}],
                "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}, {"type": "Hostname", "address": name}],
                "nodeInfo": {"kubeletVersion": "v1.37.0-kubesim", "containerRuntimeVersion": "kubesim://1",
                             "operatingSystem": "linux", "architecture": "amd64"}}}


def ready_nodes(api):
    nodes = api.store.list(NODES)[0]
    ready = [n for n in nodes if (meta.condition(n["status"], "Ready") or {}).get("status") == "True"]
    return [n for n in ready if not n["spec"].get("unschedulable")]


def is_ready(pod):
    return (meta.condition(pod.get("status") or {}, "Ready") or {}).get("status") == "True"


def is_available(pod, min_ready_seconds, at=None):
    """podutil.IsPodAvailable: Ready for at least minReadySeconds."""
    if not is_ready(pod):
        return False
    if not min_ready_seconds:
        return True
    since = parse_time(meta.condition(pod["status"], "Ready").get("lastTransitionTime"))
    return since + min_ready_seconds <= (at or time.time())


def is_active(pod):
    """controller.IsPodActive: not finished and not being deleted."""
    return not meta.terminating(pod) and (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed")


def _affinity_node(pod):
    """The node a DaemonSet pod is pinned to (nodeAffinity matchFields metadata.name)."""
    terms = (((pod["spec"].get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution") or {}).get("nodeSelectorTerms") or []
    for term in terms:
        for field in term.get("matchFields") or []:
            if field.get("key") == "metadata.name" and field.get("values"):
                return field["values"][0]
    return None


class Kubelet:
    """The scheduler and the kubelets of every node, one controller on the simulator's clock."""

    def __init__(self, cluster):
        self.cluster = cluster
        self.started = {}    # pod uid -> monotonic time its pull began
        self.backoff = {}    # pod uid -> monotonic time of ErrImagePull
        self.stopping = {}   # pod uid -> monotonic time the containers are gone

    def sync(self):
        api, settings = self.cluster.api, self.cluster.settings
        pods = api.store.list(PODS)[0]
        nodes = [n["metadata"]["name"] for n in ready_nodes(api)]
        load = dict((n, 0) for n in nodes)
        for pod in pods:
            if pod["spec"].get("nodeName") in load:
                load[pod["spec"]["nodeName"]] += 1
        clock = time.monotonic()
        for pod in pods:
            uid = pod["metadata"]["uid"]
            if meta.terminating(pod):
                self._terminate(pod, clock)
                continue
            if not pod["spec"].get("nodeName"):
                node = _affinity_node(pod) or (min(nodes, key=lambda n: (load[n], n)) if nodes else None)
                if node in load:
                    load[node] += 1
                    self._bind(pod, node)
                continue
            if uid not in self.started:
                self.started[uid] = clock
                if (pod.get("status") or {}).get("phase") != "Running":
                    self._write_status(pod, self._pending(pod, "ContainerCreating", None))
            images = [c.get("image", "") for c in pod["spec"].get("containers", [])]
            due = self.started[uid] + max([settings.delay(i) for i in images] or [0])
            if clock < due:
                self.cluster.requeue_at(due)
                continue
            self._start(pod, images, clock)
        alive = set(p["metadata"]["uid"] for p in pods)
        for table in (self.started, self.backoff, self.stopping):
            for uid in [u for u in table if u not in alive]:
                del table[uid]

    def _bind(self, pod, node):
        bound = clone(pod)
        bound["spec"]["nodeName"] = node
        bound["status"] = dict(bound.get("status") or {}, conditions=[
            meta.new_condition("PodScheduled", "True", None, None, with_update_time=False)])
        self._clean_conditions(bound["status"])
        self.cluster.api.store.update(PODS, pod["metadata"]["namespace"], pod["metadata"]["name"], bound)
        self.cluster.recorder.event(pod, "Normal", "Scheduled", "Successfully assigned %s/%s to %s" % (
            pod["metadata"]["namespace"], pod["metadata"]["name"], node), "default-scheduler")

    @staticmethod
    def _clean_conditions(status):
        for c in status.get("conditions") or []:
            for key in ("reason", "message"):
                if c.get(key) is None:
                    c.pop(key, None)

    def _start(self, pod, images, clock):
        settings, uid = self.cluster.settings, pod["metadata"]["uid"]
        broken = [i for i in images if settings.is_broken(i)]
        if broken:
            if uid not in self.backoff:
                self.backoff[uid] = clock
                message = ('failed to pull and unpack image "%s": failed to resolve reference "%s": %s: not found'
                           % (broken[0], broken[0], broken[0]))
                if self._write_status(pod, self._pending(pod, "ErrImagePull", message)):
                    self.cluster.recorder.event(pod, "Warning", "Failed", "Failed to pull image \"%s\": %s"
                                                % (broken[0], message), "kubelet")
                    self.cluster.recorder.event(pod, "Warning", "Failed", "Error: ErrImagePull", "kubelet")
            if clock < self.backoff[uid] + BACKOFF:
                self.cluster.requeue_at(self.backoff[uid] + BACKOFF)
                return
            if self._write_status(pod, self._pending(pod, "ImagePullBackOff",
                                                     'Back-off pulling image "%s"' % broken[0])):
                self.cluster.recorder.event(pod, "Normal", "BackOff", 'Back-off pulling image "%s"' % broken[0],
                                            "kubelet")
                self.cluster.recorder.event(pod, "Warning", "Failed", "Error: ImagePullBackOff", "kubelet")
            return
        if (pod.get("status") or {}).get("phase") == "Running":
            return
        ready = not any(settings.is_never_ready(i) for i in images)
        status = self._running(pod, ready)
        if self._write_status(pod, status):
            for container in pod["spec"].get("containers", []):
                self.cluster.recorder.event(pod, "Normal", "Started", "Started container %s" % container["name"],
                                            "kubelet")

    def _pending(self, pod, reason, message):
        status = clone(pod.get("status") or {})
        status.update(phase="Pending", hostIP="127.0.0.1", startTime=status.get("startTime") or now())
        waiting = {"reason": reason}
        if message:
            waiting["message"] = message
        status["containerStatuses"] = [{
            "name": c["name"], "image": c.get("image", ""), "imageID": "", "ready": False, "restartCount": 0,
            "started": False, "state": {"waiting": dict(waiting)}, "lastState": {}}
            for c in pod["spec"].get("containers", [])]
        names = ",".join(c["name"] for c in pod["spec"].get("containers", []))
        for kind, value in (("PodReadyToStartContainers", "False"), ("Initialized", "True"),
                            ("Ready", "False"), ("ContainersReady", "False")):
            reason_text = "ContainersNotReady" if kind in ("Ready", "ContainersReady") else None
            found = meta.new_condition(kind, value, reason_text, (
                "containers with unready status: [%s]" % names.replace(",", " ")) if reason_text else None,
                with_update_time=False)
            meta.set_condition(status, found)
        self._clean_conditions(status)
        return status

    def _running(self, pod, ready):
        status = clone(pod.get("status") or {})
        started = now()
        status.update(phase="Running", podIP="10.0.0.%d" % (meta.fnv32a(pod["metadata"]["uid"].encode()) % 250 + 2),
                      hostIP="127.0.0.1")
        status["podIPs"] = [{"ip": status["podIP"]}]
        status["containerStatuses"] = [{
            "name": c["name"], "image": c.get("image", ""), "imageID": "kubesim://" + c.get("image", ""),
            "containerID": "kubesim://%s-%s" % (pod["metadata"]["uid"][:8], c["name"]), "ready": ready,
            "restartCount": 0, "started": True, "state": {"running": {"startedAt": started}}, "lastState": {}}
            for c in pod["spec"].get("containers", [])]
        names = " ".join(c["name"] for c in pod["spec"].get("containers", []))
        for kind in ("PodReadyToStartContainers", "Initialized", "ContainersReady", "Ready"):
            value = "True" if ready or kind in ("PodReadyToStartContainers", "Initialized") else "False"
            reason = None if value == "True" else "ContainersNotReady"
            meta.set_condition(status, meta.new_condition(kind, value, reason, (
                "containers with unready status: [%s]" % names) if reason else None, with_update_time=False))
        self._clean_conditions(status)
        return status

    def _write_status(self, pod, status):
        if status == pod.get("status"):
            return False
        updated = clone(pod)
        updated["status"] = status
        self.cluster.api.store.update(PODS, pod["metadata"]["namespace"], pod["metadata"]["name"], updated)
        return True

    def _terminate(self, pod, clock):
        uid = pod["metadata"]["uid"]
        if uid not in self.stopping:
            running = (pod.get("status") or {}).get("phase") == "Running"
            grace = pod["metadata"].get("deletionGracePeriodSeconds") or 0
            self.stopping[uid] = clock + (min(grace, self.cluster.settings.stop_delay) if running else 0)
        if clock < self.stopping[uid]:
            self.cluster.requeue_at(self.stopping[uid])
            return
        self.cluster.api.remove_now(PODS, pod["metadata"]["namespace"], pod["metadata"]["name"])
