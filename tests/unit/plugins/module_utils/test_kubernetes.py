from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.rollback.core.plugins.module_utils.kubernetes import deployment_ready, images, pruned


def deployment(generation=2, observed=2, replicas=3, updated=3, total=3, available=3, conditions=None):
    return {"metadata": {"generation": generation}, "spec": {"replicas": replicas},
            "status": {"observedGeneration": observed, "updatedReplicas": updated, "replicas": total,
                       "availableReplicas": available, "conditions": conditions or []}}


@pytest.mark.parametrize("state,done,text", [
    (deployment(), True, "3 of 3 replicas updated and available"),
    (deployment(observed=1), False, "waiting for the controller to observe generation 2"),
    (deployment(updated=1), False, "1 of 3 updated replicas"),
    (deployment(total=5), False, "2 old replicas pending termination"),
    (deployment(available=2), False, "2 of 3 updated replicas available"),
    (deployment(conditions=[{"type": "Progressing", "reason": "ProgressDeadlineExceeded",
                             "message": 'ReplicaSet "demo-x" has timed out progressing.'}]),
     False, 'progress deadline exceeded: ReplicaSet "demo-x" has timed out progressing.'),
])
def test_rollout_readiness_like_kubectl_rollout_status(state, done, text):
    assert deployment_ready(state)[0] is done
    assert deployment_ready(state)[1].startswith(text)


def test_pruned_drops_null_and_empty_fields_recursively():
    assert pruned({"a": None, "b": {}, "c": [], "d": {"e": {"f": None}}, "g": [{"h": 1, "i": {}}], "j": 0}) == {
        "g": [{"h": 1}], "j": 0}


def test_images_of_a_template():
    assert images({"spec": {"containers": [{"image": "a:1"}, {"image": "b:2"}]}}) == "a:1,b:2"


def test_statefulset_and_daemonset_readiness():
    from ansible_collections.rollback.core.plugins.module_utils.kubernetes import daemonset_ready, statefulset_ready

    sts = {"metadata": {"generation": 3}, "spec": {"replicas": 2},
           "status": {"observedGeneration": 3, "readyReplicas": 2, "updatedReplicas": 2, "currentRevision": "a",
                      "updateRevision": "a"}}
    assert statefulset_ready(sts) == (True, "2 pods ready at revision a")
    sts["status"].update(updateRevision="b", updatedReplicas=1)
    assert statefulset_ready(sts) == (False, "1 of 2 pods at revision b")
    sts["status"]["readyReplicas"] = 0
    assert statefulset_ready(sts) == (False, "0 of 2 pods ready")
    ds = {"metadata": {"generation": 1}, "status": {"observedGeneration": 1, "desiredNumberScheduled": 3,
                                                    "updatedNumberScheduled": 3, "numberAvailable": 2}}
    assert daemonset_ready(ds) == (False, "2 of 3 updated pods available")
    ds["status"]["numberAvailable"] = 3
    assert daemonset_ready(ds) == (True, "3 of 3 pods updated and available")
