"""Readiness exactly as kubectl pkg/polymorphichelpers/rollout_status.go, messages included.

The same verdicts are compared with the real `kubectl rollout status --watch=false` in
tests/integration/test_kubernetes_rollout_status.py; these cases pin each branch of the Go code.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.rollback.core.plugins.module_utils.kubernetes_wait import (
    RolloutFailed, _pod_note, daemonset_status, deployment_status, statefulset_status)


def deployment(generation=2, observed=2, replicas=3, updated=3, total=3, available=3, reason=None):
    conditions = [{"type": "Progressing", "status": "False" if reason else "True", "reason": reason or
                   "NewReplicaSetAvailable", "message": 'ReplicaSet "demo-x" has timed out progressing.'}]
    return {"metadata": {"name": "demo", "generation": generation}, "spec": {"replicas": replicas},
            "status": {"observedGeneration": observed, "updatedReplicas": updated, "replicas": total,
                       "availableReplicas": available, "conditions": conditions}}


@pytest.mark.parametrize("state,done,text", [
    (deployment(), True, 'deployment "demo" successfully rolled out'),
    (deployment(observed=1), False, "Waiting for deployment spec update to be observed..."),
    (deployment(updated=1), False,
     'Waiting for deployment "demo" rollout to finish: 1 out of 3 new replicas have been updated...'),
    (deployment(total=5), False,
     'Waiting for deployment "demo" rollout to finish: 2 old replicas are pending termination...'),
    (deployment(available=2), False,
     'Waiting for deployment "demo" rollout to finish: 2 of 3 updated replicas are available...'),
    # A deadline exceeded by the previous generation does not count until the controller observes the new one.
    (deployment(observed=1, reason="ProgressDeadlineExceeded"), False,
     "Waiting for deployment spec update to be observed..."),
])
def test_deployment_verdicts(state, done, text):
    assert deployment_status(state) == (done, text)


def test_progress_deadline_exceeded_fails_once_observed():
    with pytest.raises(RolloutFailed) as failed:
        deployment_status(deployment(available=0, reason="ProgressDeadlineExceeded"))
    assert failed.value.msg == 'deployment "demo" exceeded its progress deadline'
    assert failed.value.details["condition_message"] == 'ReplicaSet "demo-x" has timed out progressing.'


def statefulset(replicas=3, ready=3, updated=3, current="a", update="a", strategy=None, observed=2, generation=2):
    return {"metadata": {"name": "db", "generation": generation}, "spec": {
        "replicas": replicas, "updateStrategy": strategy or {"type": "RollingUpdate",
                                                             "rollingUpdate": {"partition": 0}}},
            "status": {"observedGeneration": observed, "readyReplicas": ready, "updatedReplicas": updated,
                       "currentReplicas": 3, "currentRevision": current, "updateRevision": update}}


@pytest.mark.parametrize("state,done,text", [
    (statefulset(), True, "partitioned roll out complete: 3 new pods have been updated..."),
    (statefulset(observed=0, generation=0), False, "Waiting for statefulset spec update to be observed..."),
    (statefulset(ready=1), False, "Waiting for 2 pods to be ready..."),
    (statefulset(updated=1, update="b"), False,
     "Waiting for partitioned roll out to finish: 1 out of 3 new pods have been updated..."),
    # partition 2: only the pods with an ordinal >= 2 are updated, and that is done (it never was before).
    (statefulset(updated=1, update="b", strategy={"type": "RollingUpdate", "rollingUpdate": {"partition": 2}}), True,
     "partitioned roll out complete: 1 new pods have been updated..."),
    # no rollingUpdate (a server defaults it; kubectl still has this branch)
    (statefulset(updated=1, update="b", strategy={"type": "RollingUpdate"}), False,
     "waiting for statefulset rolling update to complete 1 pods at revision b..."),
    (statefulset(strategy={"type": "RollingUpdate"}), True,
     "statefulset rolling update complete 3 pods at revision a..."),
])
def test_statefulset_verdicts(state, done, text):
    assert statefulset_status(state) == (done, text)


def test_on_delete_has_no_rollout_status():
    with pytest.raises(RolloutFailed, match="only available for RollingUpdate strategy type"):
        statefulset_status(statefulset(strategy={"type": "OnDelete"}))
    with pytest.raises(RolloutFailed, match="only available for RollingUpdate strategy type"):
        daemonset_status({"metadata": {"name": "x"}, "spec": {"updateStrategy": {"type": "OnDelete"}}})


@pytest.mark.parametrize("status,done,text", [
    (dict(observedGeneration=1, desiredNumberScheduled=3, updatedNumberScheduled=3, numberAvailable=3), True,
     'daemon set "agent" successfully rolled out'),
    (dict(observedGeneration=0, desiredNumberScheduled=3), False,
     "Waiting for daemon set spec update to be observed..."),
    (dict(observedGeneration=1, desiredNumberScheduled=3, updatedNumberScheduled=1), False,
     'Waiting for daemon set "agent" rollout to finish: 1 out of 3 new pods have been updated...'),
    (dict(observedGeneration=1, desiredNumberScheduled=3, updatedNumberScheduled=3, numberAvailable=2), False,
     'Waiting for daemon set "agent" rollout to finish: 2 of 3 updated pods are available...'),
])
def test_daemonset_verdicts(status, done, text):
    obj = {"metadata": {"name": "agent", "generation": 1}, "spec": {"updateStrategy": {"type": "RollingUpdate"}},
           "status": status}
    assert daemonset_status(obj) == (done, text)


def test_pod_note_names_the_waiting_reason_and_the_last_exit():
    pod = {"metadata": {"name": "demo-x-1"}, "status": {"containerStatuses": [
        {"name": "web", "state": {"waiting": {"reason": "ImagePullBackOff",
                                              "message": 'Back-off pulling image "app:broken"'}}},
        {"name": "sidecar", "state": {"waiting": {"reason": "CrashLoopBackOff"}},
         "lastState": {"terminated": {"reason": "Error", "exitCode": 2}}},
        {"name": "ok", "state": {"running": {}}}]}}
    assert _pod_note(pod) == ('pod demo-x-1: container web waiting ImagePullBackOff: Back-off pulling image '
                              '"app:broken", container sidecar waiting CrashLoopBackOff, last exit Error (code 2)')
    assert _pod_note({"metadata": {"name": "p"}, "status": {"containerStatuses": [
        {"name": "web", "state": {"waiting": {"reason": "ContainerCreating"}}}]}}) == ""
