# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Waiting on Kubernetes: rollout readiness exactly as ``kubectl rollout status``, and why a rollout is stuck.

The three status viewers follow kubectl's pkg/polymorphichelpers/rollout_status.go line by line
(DeploymentStatusViewer, StatefulSetStatusViewer, DaemonSetStatusViewer), messages included: a
Deployment whose Progressing condition says ProgressDeadlineExceeded fails at once, but only once the
controller has observed the current generation; a StatefulSet with a partition is done when the
pods above the partition are updated; OnDelete StatefulSets and DaemonSets have no rollout status.

A wait survives the API's hiccups: a transient error inside it (connection refused or reset, no
answer, 429, 5xx) is a state to report, not the end, and every call ends by the wait's deadline.
When a rollout fails or times out, the message says why: the waiting/terminated reasons of the
newest pods and the recent Warning events of those pods and of their ReplicaSet.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError
from ansible_collections.rollback.core.plugins.module_utils.kubernetes import (
    PLURAL, KubeError, controlled_by, selector_of, template_without_hash)
from ansible_collections.rollback.core.plugins.module_utils.wait import WaitTimeout

TIMED_OUT_REASON = "ProgressDeadlineExceeded"  # kubectl pkg/util/deployment TimedOutReason
REVISION_HASH_LABEL = "controller-revision-hash"
DIAGNOSIS_BUDGET = 5.0  # seconds spent finding out why, after a failure
PODS_SHOWN = 3
EVENTS_SHOWN = 3


class RolloutFailed(RollbackError):
    """The rollout cannot finish (kubectl rollout status exits with an error)."""


def deployment_status(obj):
    """kubectl DeploymentStatusViewer.Status, for revision 0: (done, message) or RolloutFailed."""
    meta, spec, status = obj["metadata"], obj.get("spec") or {}, obj.get("status") or {}
    name = meta["name"]
    if meta.get("generation", 0) <= status.get("observedGeneration", 0):
        progressing = _condition(status, "Progressing")
        if progressing and progressing.get("reason") == TIMED_OUT_REASON:
            raise RolloutFailed('deployment "%s" exceeded its progress deadline' % name,
                                condition_message=progressing.get("message"))
        replicas, updated = spec.get("replicas"), status.get("updatedReplicas", 0)
        if replicas is not None and updated < replicas:
            return False, ('Waiting for deployment "%s" rollout to finish: %d out of %d new replicas have been '
                           'updated...' % (name, updated, replicas))
        if status.get("replicas", 0) > updated:
            return False, ('Waiting for deployment "%s" rollout to finish: %d old replicas are pending '
                           'termination...' % (name, status.get("replicas", 0) - updated))
        if status.get("availableReplicas", 0) < updated:
            return False, ('Waiting for deployment "%s" rollout to finish: %d of %d updated replicas are '
                           'available...' % (name, status.get("availableReplicas", 0), updated))
        return True, 'deployment "%s" successfully rolled out' % name
    return False, "Waiting for deployment spec update to be observed..."


def statefulset_status(obj):
    """kubectl StatefulSetStatusViewer.Status."""
    meta, spec, status = obj["metadata"], obj.get("spec") or {}, obj.get("status") or {}
    strategy = spec.get("updateStrategy") or {"type": "RollingUpdate"}  # the API server's default
    if strategy.get("type") != "RollingUpdate":
        raise RolloutFailed("rollout status is only available for RollingUpdate strategy type")
    observed = status.get("observedGeneration", 0)
    if observed == 0 or meta.get("generation", 0) > observed:
        return False, "Waiting for statefulset spec update to be observed..."
    replicas, ready = spec.get("replicas"), status.get("readyReplicas", 0)
    if replicas is not None and ready < replicas:
        return False, "Waiting for %d pods to be ready..." % (replicas - ready)
    rolling, updated = strategy.get("rollingUpdate"), status.get("updatedReplicas", 0)
    if rolling is not None:
        partition = rolling.get("partition")
        if replicas is not None and partition is not None and updated < replicas - partition:
            return False, ("Waiting for partitioned roll out to finish: %d out of %d new pods have been "
                           "updated..." % (updated, replicas - partition))
        return True, "partitioned roll out complete: %d new pods have been updated..." % updated
    if status.get("updateRevision") != status.get("currentRevision"):
        return False, "waiting for statefulset rolling update to complete %d pods at revision %s..." % (
            updated, status.get("updateRevision"))
    return True, "statefulset rolling update complete %d pods at revision %s..." % (
        status.get("currentReplicas", 0), status.get("currentRevision"))


def daemonset_status(obj):
    """kubectl DaemonSetStatusViewer.Status."""
    meta, spec, status = obj["metadata"], obj.get("spec") or {}, obj.get("status") or {}
    if (spec.get("updateStrategy") or {"type": "RollingUpdate"}).get("type") != "RollingUpdate":
        raise RolloutFailed("rollout status is only available for RollingUpdate strategy type")
    name = meta["name"]
    if meta.get("generation", 0) <= status.get("observedGeneration", 0):
        desired = status.get("desiredNumberScheduled", 0)
        if status.get("updatedNumberScheduled", 0) < desired:
            return False, ('Waiting for daemon set "%s" rollout to finish: %d out of %d new pods have been '
                           'updated...' % (name, status.get("updatedNumberScheduled", 0), desired))
        if status.get("numberAvailable", 0) < desired:
            return False, ('Waiting for daemon set "%s" rollout to finish: %d of %d updated pods are '
                           'available...' % (name, status.get("numberAvailable", 0), desired))
        return True, 'daemon set "%s" successfully rolled out' % name
    return False, "Waiting for daemon set spec update to be observed..."


STATUS = {"Deployment": deployment_status, "StatefulSet": statefulset_status, "DaemonSet": daemonset_status}


def on_delete(obj):
    """The OnDelete strategy of a StatefulSet or DaemonSet: pods change only when someone deletes them."""
    return ((obj.get("spec") or {}).get("updateStrategy") or {}).get("type") == "OnDelete"


def _condition(status, kind):
    return next((c for c in status.get("conditions") or [] if c.get("type") == kind), None)


def wait_until_done(kube, waiter, read, check, what):
    """Poll ``check(read())`` through the waiter; transient API errors are reported states, not failures.

    ``read`` calls the API; each call ends by the wait's deadline. Returns the last state, or None
    when waiting is off.
    """
    if not waiter.enabled:
        return None
    deadline = time.monotonic() + waiter.timeout

    def probe():
        with kube.until(deadline):
            try:
                obj = read()
            except KubeError as error:
                if not error.transient:
                    raise
                return False, "Kubernetes API: %s" % error.msg
        return check(obj)

    return waiter.wait(probe, what)


def wait_for_rollout(kube, waiter, kind, namespace, name):
    """Wait as ``kubectl rollout status`` does; on failure or timeout, say why the new pods are not ready."""
    what = "%s %s/%s" % (kind.lower(), namespace, name)
    seen = {}

    def read():
        try:
            seen["obj"] = kube.get(PLURAL[kind], namespace, name)
        except KubeError as error:
            seen["api_error"] = error.transient
            raise
        seen["api_error"] = False
        return seen["obj"]

    try:
        return wait_until_done(kube, waiter, read, STATUS[kind], "the rollout of " + what)
    except RolloutFailed as error:
        detail = error.details.get("condition_message")
        raise RolloutFailed("the rollout of %s failed: %s%s%s" % (
            what, error.msg, " (%s)" % detail if detail else "", diagnosis(kube, kind, seen.get("obj"))))
    except WaitTimeout as error:
        why = "" if seen.get("api_error") else diagnosis(kube, kind, seen.get("obj"))
        raise WaitTimeout(error.msg + why, **error.details)


def diagnosis(kube, kind, obj):
    """'; pod x: container c waiting ImagePullBackOff: ...; Warning events: ...' or '' when nothing is known."""
    if not obj:
        return ""
    try:
        with kube.until(time.monotonic() + DIAGNOSIS_BUDGET):
            owner_kind, owner, pods = _newest_pods(kube, kind, obj)
            notes = [note for note in (_pod_note(pod) for pod in pods) if note][:PODS_SHOWN]
            events = _warnings(kube, obj["metadata"]["namespace"],
                               [(owner_kind, owner)] + [("Pod", pod) for pod in pods[:PODS_SHOWN]])
    except KubeError:
        return ""
    parts = notes + (["Warning events: " + "; ".join(events)] if events else [])
    return "".join("; " + part for part in parts)


def _newest_pods(kube, kind, obj):
    """(kind, object that owns the newest pods, those pods): the new ReplicaSet's for a Deployment."""
    namespace = obj["metadata"]["namespace"]
    if kind == "Deployment":
        owned = [rs for rs in kube.list("replicasets", namespace, selector_of(obj)).get("items", [])
                 if controlled_by(rs, obj)]
        owner = _new_replicaset(obj, owned)
        if owner is None:
            return kind, obj, []
        pods = [p for p in kube.list("pods", namespace, selector_of(owner)).get("items", [])
                if controlled_by(p, owner)]
        return "ReplicaSet", owner, pods
    pods = [p for p in kube.list("pods", namespace, selector_of(obj)).get("items", []) if controlled_by(p, obj)]
    revision = (obj.get("status") or {}).get("updateRevision")
    if kind == "StatefulSet" and revision:
        pods = [p for p in pods if (p["metadata"].get("labels") or {}).get(REVISION_HASH_LABEL) ==
                revision.rsplit("-", 1)[-1]] or pods
    return kind, obj, pods


def _new_replicaset(deployment, owned):
    """kubectl util/deployment FindNewReplicaSet: the oldest ReplicaSet whose template equals the Deployment's."""
    wanted = template_without_hash(deployment["spec"]["template"])
    for rs in sorted(owned, key=lambda r: (r["metadata"].get("creationTimestamp") or "", r["metadata"]["name"])):
        if template_without_hash(rs["spec"]["template"]) == wanted:
            return rs
    return None


def _pod_note(pod):
    status = pod.get("status") or {}
    found = []
    for container in (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or []):
        state = container.get("state") or {}
        waiting = state.get("waiting") or {}
        if waiting.get("reason") not in (None, "ContainerCreating", "PodInitializing"):
            why = ": " + waiting["message"] if waiting.get("message") else ""
            found.append("container %s waiting %s%s" % (container.get("name"), waiting.get("reason"), why))
            last = (container.get("lastState") or {}).get("terminated")
            if last:
                found.append("last exit %s (code %s)" % (last.get("reason"), last.get("exitCode")))
        elif state.get("terminated") and state["terminated"].get("exitCode"):
            ended = state["terminated"]
            found.append("container %s terminated %s (code %s)" % (
                container.get("name"), ended.get("reason"), ended.get("exitCode")))
        elif state.get("running") and container.get("ready") is False:
            found.append("container %s running but not ready%s" % (container.get("name"), (
                " (%d restarts)" % container["restartCount"]) if container.get("restartCount") else ""))
    scheduled = _condition(status, "PodScheduled")
    if scheduled and scheduled.get("status") == "False":
        found.append("not scheduled: %s" % (scheduled.get("message") or scheduled.get("reason")))
    return "pod %s: %s" % (pod["metadata"]["name"], ", ".join(found)) if found else ""


def _warnings(kube, namespace, objects):
    """The latest Warning events about these objects (kubectl describe's field selector, per object)."""
    seen, found = set(), []
    for kind, obj in objects:
        meta = obj["metadata"]
        fields = "involvedObject.name=%s,involvedObject.kind=%s,type=Warning" % (meta["name"], kind)
        for event in kube.list("events", namespace, fields=fields).get("items", []):
            involved = event.get("involvedObject") or {}
            if event.get("type") != "Warning" or involved.get("name") != meta["name"]:
                continue  # a stand-in that ignores fieldSelector must not mislead the message
            key = (event.get("reason"), event.get("message"))
            if key not in seen:
                seen.add(key)
                found.append((_event_time(event), event))
    found.sort(key=lambda item: item[0], reverse=True)
    return ["%s%s: %s" % (e.get("reason"), " (x%d)" % e["count"] if (e.get("count") or 1) > 1 else "",
                          (e.get("message") or "").strip()) for _t, e in found[:EVENTS_SHOWN]]


def _event_time(event):
    series = (event.get("series") or {}).get("lastObservedTime")
    return series or event.get("lastTimestamp") or event.get("eventTime") or (
        event.get("metadata") or {}).get("creationTimestamp") or ""
