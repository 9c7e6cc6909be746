"""The Deployment controller, as pkg/controller/deployment/{deployment_controller,sync,rolling,recreate,
progress}.go and util/deployment_util.go write it: one sync per Deployment, reading the state the
ReplicaSet controller and the kubelet leave, so a rollout advances over time within maxSurge and
maxUnavailable, reports Progressing/Available conditions (ProgressDeadlineExceeded after
progressDeadlineSeconds without progress), copies the Deployment's annotations to the new ReplicaSet
without removing any, and prunes old ReplicaSets beyond revisionHistoryLimit once the rollout is complete.
"""

import time

from . import meta
from . import ownership
from .pods import PODS
from .replicaset import REPLICASETS
from .store import ApiError, clone, parse_time
from .deployment_util import (
    DEPLOYMENTS, DESIRED, HASH_LABEL, MAX, REVISION, by_creation, calculate_status, deployment_complete,
    deployment_progressing, deployment_timed_out, equal_ignore_hash, find_new, has_progress_deadline,
    is_rolling, max_surge, max_unavailable, new_rs_new_replicas, omit_empty, replicas, revision,
    set_new_rs_annotations, set_replicas_annotations, rs_status, template_key)

COMPONENT = "deployment-controller"


class DeploymentController:
    def __init__(self, cluster):
        self.cluster = cluster
        self.api = cluster.api

    def sync(self):
        self.cluster.each(DEPLOYMENTS, self.sync_deployment)

    # deployment_controller.go syncDeployment --------------------------------------------------------------
    def sync_deployment(self, d):
        namespace = d["metadata"]["namespace"]
        candidates = self.api.store.list(REPLICASETS, namespace, copy=False)[0]
        rs_list = ownership.claim(self.api, REPLICASETS, d, candidates)
        if meta.terminating(d):
            new_rs, old = self.get_all(d, rs_list, False)
            return self.sync_deployment_status([new_rs] + old, new_rs, d)
        d = self.check_paused_conditions(d)
        if d["spec"].get("paused"):
            return self.sync_scale(d, rs_list)
        if self.is_scaling_event(d, rs_list):
            return self.sync_scale(d, rs_list)
        if (d["spec"].get("strategy") or {}).get("type") == "Recreate":
            return self.rollout_recreate(d, rs_list)
        return self.rollout_rolling(d, rs_list)

    def _update_status(self, d):
        d = clone(d)
        omit_empty(d.setdefault("status", {}))
        return self.api.update(DEPLOYMENTS, d["metadata"]["namespace"], d["metadata"]["name"], d,
                               subresource="status")

    def check_paused_conditions(self, d):
        if not has_progress_deadline(d):
            return d
        found = meta.condition(d.get("status") or {}, "Progressing")
        if found and found.get("reason") == "ProgressDeadlineExceeded":
            return d
        paused_exists = found is not None and found.get("reason") == "DeploymentPaused"
        status = clone(d.get("status") or {})
        if d["spec"].get("paused") and not paused_exists:
            meta.set_condition(status, meta.new_condition("Progressing", "Unknown", "DeploymentPaused",
                                                          "Deployment is paused"))
        elif not d["spec"].get("paused") and paused_exists:
            meta.set_condition(status, meta.new_condition("Progressing", "Unknown", "DeploymentResumed",
                                                          "Deployment is resumed"))
        else:
            return d
        d = clone(d)
        d["status"] = status
        return self._update_status(d)

    # sync.go ----------------------------------------------------------------------------------------------
    def get_all(self, d, rs_list, create):
        """getAllReplicaSetsAndSyncRevision: the new ReplicaSet (created when asked) and the old ones."""
        new_rs = find_new(d, rs_list)
        old = [rs for rs in rs_list if new_rs is None or rs["metadata"]["uid"] != new_rs["metadata"]["uid"]]
        return self.get_new_rs(d, rs_list, old, create), old

    def get_new_rs(self, d, rs_list, old, create):
        existing = find_new(d, rs_list)
        new_revision = str(max([revision(rs) for rs in old] + [0]) + 1)
        namespace = d["metadata"]["namespace"]
        if existing is not None:
            rs = clone(existing)
            annotations_updated = set_new_rs_annotations(d, rs, new_revision, True)
            if annotations_updated or rs["spec"].get("minReadySeconds", 0) != d["spec"].get("minReadySeconds", 0):
                rs["spec"]["minReadySeconds"] = d["spec"].get("minReadySeconds", 0)
                if not rs["spec"]["minReadySeconds"]:
                    rs["spec"].pop("minReadySeconds")
                return self.api.update(REPLICASETS, namespace, rs["metadata"]["name"], rs)
            needs_update = self._set_revision(d, (rs["metadata"].get("annotations") or {}).get(REVISION))
            status = d.setdefault("status", {})
            if has_progress_deadline(d) and meta.condition(status, "Progressing") is None:
                meta.set_condition(status, meta.new_condition("Progressing", "True", "FoundNewReplicaSet",
                                                              'Found new replica set "%s"' % rs["metadata"]["name"]))
                needs_update = True
            if needs_update:
                d.update(self._update_status(d))
            return rs
        if not create:
            return None
        template = clone(d["spec"]["template"])
        pod_hash = meta.compute_hash(template_key(template), (d.get("status") or {}).get("collisionCount"))
        template.setdefault("metadata", {}).setdefault("labels", {})[HASH_LABEL] = pod_hash
        selector = clone(d["spec"]["selector"])
        selector.setdefault("matchLabels", {})[HASH_LABEL] = pod_hash
        new_rs = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {
            "name": "%s-%s" % (d["metadata"]["name"], pod_hash), "namespace": namespace,
            "ownerReferences": [meta.controller_ref(d)], "labels": dict(template["metadata"]["labels"])},
            "spec": {"replicas": 0, "selector": selector, "template": template}}
        if d["spec"].get("minReadySeconds"):
            new_rs["spec"]["minReadySeconds"] = d["spec"]["minReadySeconds"]
        count = new_rs_new_replicas(d, old + [new_rs], new_rs)
        new_rs["spec"]["replicas"] = count
        set_new_rs_annotations(d, new_rs, new_revision, False)
        try:
            created = self.api.create(REPLICASETS, namespace, new_rs)
        except ApiError as error:
            if error.code != 409:
                raise
            found = self.api.store.get(REPLICASETS, namespace, new_rs["metadata"]["name"])
            if meta.owned_by(found, d) and equal_ignore_hash(found["spec"]["template"], d["spec"]["template"]):
                return found
            d["status"]["collisionCount"] = (d["status"].get("collisionCount") or 0) + 1
            self._update_status(d)
            raise
        if count > 0:
            self.cluster.recorder.event(d, "Normal", "ScalingReplicaSet", "Scaled up replica set %s from 0 to %d"
                                        % (created["metadata"]["name"], count), COMPONENT)
        self._set_revision(d, new_revision)
        if has_progress_deadline(d):
            meta.set_condition(d.setdefault("status", {}), meta.new_condition(
                "Progressing", "True", "NewReplicaSetCreated", 'Created new replica set "%s"'
                % created["metadata"]["name"]))
        d.update(self._update_status(d))
        return created

    @staticmethod
    def _set_revision(d, value):
        """SetDeploymentRevision."""
        annotations = d["metadata"].setdefault("annotations", {})
        if annotations.get(REVISION) != value:
            annotations[REVISION] = value
            return True
        return False

    def is_scaling_event(self, d, rs_list):
        new_rs, old = self.get_all(d, rs_list, False)
        for rs in [rs for rs in [new_rs] + old if rs and replicas(rs) > 0]:
            desired = (rs["metadata"].get("annotations") or {}).get(DESIRED)
            if desired is not None and desired.isdigit() and int(desired) != d["spec"].get("replicas", 1):
                return True
        return False

    def sync_scale(self, d, rs_list):
        """sync: scale (proportionally while a rollout is in flight), clean up when paused, write status."""
        new_rs, old = self.get_all(d, rs_list, False)
        self.scale(d, new_rs, old)
        if d["spec"].get("paused"):
            self.cleanup(old, d)
        self.sync_deployment_status([new_rs] + old, new_rs, d)

    def scale(self, d, new_rs, old):
        desired = d["spec"].get("replicas", 1)
        active = [rs for rs in by_creation(old)[::-1] + [new_rs] if rs and replicas(rs) > 0]
        if len(active) <= 1:
            target = active[0] if active else (new_rs or (by_creation(old)[-1] if old else None))
            if target is not None and replicas(target) != desired:
                self.scale_rs(target, desired, d)
            return
        saturated = new_rs is not None and replicas(new_rs) == desired and rs_status(
            new_rs, "availableReplicas") == desired and (new_rs["metadata"].get("annotations") or {}).get(
            DESIRED) == str(desired)
        if saturated:  # deployment_util.go IsSaturated
            for rs in old:
                if replicas(rs) > 0:
                    self.scale_rs(rs, 0, d)
            return
        if not is_rolling(d):
            return
        total = sum(replicas(rs) for rs in active)
        allowed = desired + max_surge(d) if desired > 0 else 0
        to_add = allowed - total
        if to_add > 0:
            active.sort(key=lambda rs: (-replicas(rs), -parse_time(rs["metadata"].get("creationTimestamp"))))
        elif to_add < 0:
            active.sort(key=lambda rs: (-replicas(rs), parse_time(rs["metadata"].get("creationTimestamp"))))
        added, sizes = 0, {}
        for rs in active:
            if to_add:
                proportion = self._proportion(rs, d, to_add, added)
                sizes[rs["metadata"]["name"]] = replicas(rs) + proportion
                added += proportion
            else:
                sizes[rs["metadata"]["name"]] = replicas(rs)
        for index, rs in enumerate(active):
            name = rs["metadata"]["name"]
            if index == 0 and to_add:
                sizes[name] = max(0, sizes[name] + to_add - added)
            self.scale_rs(rs, sizes[name], d)

    @staticmethod
    def _proportion(rs, d, to_add, added):
        """GetReplicaSetProportion / getReplicaSetFraction."""
        if replicas(rs) == 0 or to_add == added:
            return 0
        desired = d["spec"].get("replicas", 1)
        if desired == 0:
            fraction = -replicas(rs)
        else:
            before = (rs["metadata"].get("annotations") or {}).get(MAX, "")
            before = int(before) if before.isdigit() else 0
            if not before:
                before = (d.get("status") or {}).get("replicas", 0)
            if not before:
                return 0
            exact = replicas(rs) * (desired + max_surge(d)) / float(before)
            fraction = int(exact + 0.5 if exact >= 0 else exact - 0.5) - replicas(rs)
        allowed = to_add - added
        return min(fraction, allowed) if to_add > 0 else max(fraction, allowed)

    def scale_rs(self, rs, new_size, d):
        """scaleReplicaSetAndRecordEvent / scaleReplicaSet: size and the replica annotations in one update."""
        size_changed = replicas(rs) != new_size
        updated = clone(rs)
        annotations_changed = set_replicas_annotations(updated, d["spec"].get("replicas", 1),
                                                       d["spec"].get("replicas", 1) + max_surge(d))
        if not size_changed and not annotations_changed:
            return False, rs
        updated["spec"]["replicas"] = new_size
        result = self.api.update(REPLICASETS, rs["metadata"]["namespace"], rs["metadata"]["name"], updated)
        if size_changed:
            direction = "up" if new_size > replicas(rs) else "down"
            self.cluster.recorder.event(d, "Normal", "ScalingReplicaSet", "Scaled %s replica set %s from %d to %d" % (
                direction, rs["metadata"]["name"], replicas(rs), new_size), COMPONENT)
        rs.clear()
        rs.update(result)
        return size_changed, rs

    def cleanup(self, old, d):
        """cleanupDeployment: delete the oldest fully scaled-down ReplicaSets beyond revisionHistoryLimit."""
        limit = d["spec"].get("revisionHistoryLimit")
        if limit is None:
            return
        alive = [rs for rs in old if rs and not meta.terminating(rs)]
        surplus = len(alive) - limit
        for rs in sorted(alive, key=lambda rs: (revision(rs), rs["metadata"]["name"]))[:max(0, surplus)]:
            if (rs_status(rs, "replicas") != 0 or replicas(rs) != 0
                    or rs["metadata"].get("generation", 1) > rs_status(rs, "observedGeneration")):
                continue
            try:
                self.api.delete(REPLICASETS, rs["metadata"]["namespace"], rs["metadata"]["name"])
            except ApiError as error:
                if error.code != 404:
                    raise

    def sync_deployment_status(self, all_rss, new_rs, d):
        status = calculate_status(all_rss, new_rs, d)
        if omit_empty(dict(status)) != (d.get("status") or {}):
            d = clone(d)
            d["status"] = status
            self._update_status(d)

    # rolling.go -------------------------------------------------------------------------------------------
    def rollout_rolling(self, d, rs_list):
        new_rs, old = self.get_all(d, rs_list, True)
        all_rss = old + [new_rs]
        if self.reconcile_new(all_rss, new_rs, d):
            return self.sync_rollout_status(all_rss, new_rs, d)
        if self.reconcile_old(all_rss, [rs for rs in old if replicas(rs) > 0], new_rs, d):
            return self.sync_rollout_status(all_rss, new_rs, d)
        if deployment_complete(d, d.get("status") or {}):
            self.cleanup(old, d)
        return self.sync_rollout_status(all_rss, new_rs, d)

    def reconcile_new(self, all_rss, new_rs, d):
        desired = d["spec"].get("replicas", 1)
        if replicas(new_rs) == desired:
            return False
        if replicas(new_rs) > desired:
            return self.scale_rs(new_rs, desired, d)[0]
        return self.scale_rs(new_rs, new_rs_new_replicas(d, all_rss, new_rs), d)[0]

    def reconcile_old(self, all_rss, old, new_rs, d):
        if sum(replicas(rs) for rs in old) == 0:
            return False
        all_count = sum(replicas(rs) for rs in all_rss)
        min_available = d["spec"].get("replicas", 1) - max_unavailable(d)
        new_unavailable = replicas(new_rs) - rs_status(new_rs, "availableReplicas")
        max_scaled_down = all_count - min_available - new_unavailable
        if max_scaled_down <= 0:
            return False
        cleaned = 0
        for rs in by_creation(old):
            if cleaned >= max_scaled_down:
                break
            if replicas(rs) == 0 or replicas(rs) == rs_status(rs, "availableReplicas"):
                continue
            count = min(max_scaled_down - cleaned, replicas(rs) - rs_status(rs, "availableReplicas"))
            self.scale_rs(rs, replicas(rs) - count, d)
            cleaned += count
        available = sum(rs_status(rs, "availableReplicas") for rs in old + [new_rs])
        scaled = 0
        if available > min_available:
            budget = available - min_available
            for rs in by_creation(old):
                if scaled >= budget:
                    break
                if replicas(rs) == 0:
                    continue
                count = min(replicas(rs), budget - scaled)
                self.scale_rs(rs, replicas(rs) - count, d)
                scaled += count
        return cleaned + scaled > 0

    # recreate.go ------------------------------------------------------------------------------------------
    def rollout_recreate(self, d, rs_list):
        new_rs, old = self.get_all(d, rs_list, False)
        scaled_down = False
        for rs in old:
            if replicas(rs) > 0:
                scaled_down = self.scale_rs(rs, 0, d)[0] or scaled_down
        if scaled_down:
            return self.sync_rollout_status(old + [new_rs], new_rs, d)
        old_uids = set(rs["metadata"]["uid"] for rs in old)
        pods = self.api.store.list(PODS, d["metadata"]["namespace"], copy=False)[0]
        if any((meta.controller_of(p) or {}).get("uid") in old_uids and (p.get("status") or {}).get("phase") not in (
                "Succeeded", "Failed") for p in pods):
            return self.sync_rollout_status(old + [new_rs], new_rs, d)
        if new_rs is None:
            new_rs, old = self.get_all(d, rs_list, True)
        if replicas(new_rs) != d["spec"].get("replicas", 1):
            self.scale_rs(new_rs, d["spec"].get("replicas", 1), d)
        if deployment_complete(d, d.get("status") or {}):
            self.cleanup(old, d)
        return self.sync_rollout_status(old + [new_rs], new_rs, d)

    # progress.go ------------------------------------------------------------------------------------------
    def sync_rollout_status(self, all_rss, new_rs, d):
        status = calculate_status(all_rss, new_rs, d)
        if not has_progress_deadline(d):
            meta.remove_condition(status, "Progressing")
        current = meta.condition(d.get("status") or {}, "Progressing")
        complete_already = (status["replicas"] == status["updatedReplicas"] and current is not None
                            and current.get("reason") == "NewReplicaSetAvailable")
        name = new_rs["metadata"]["name"] if new_rs else None
        if has_progress_deadline(d) and not complete_already:
            if deployment_complete(d, status):
                meta.set_condition(status, meta.new_condition(
                    "Progressing", "True", "NewReplicaSetAvailable",
                    'ReplicaSet "%s" has successfully progressed.' % name if name
                    else 'Deployment "%s" has successfully progressed.' % d["metadata"]["name"]))
            elif deployment_progressing(d, status):
                found = meta.new_condition("Progressing", "True", "ReplicaSetUpdated",
                                           'ReplicaSet "%s" is progressing.' % name if name
                                           else 'Deployment "%s" is progressing.' % d["metadata"]["name"])
                if current is not None:
                    if current["status"] == "True":
                        found["lastTransitionTime"] = current["lastTransitionTime"]
                    meta.remove_condition(status, "Progressing")
                meta.set_condition(status, found)
            elif deployment_timed_out(d, status):
                meta.set_condition(status, meta.new_condition(
                    "Progressing", "False", "ProgressDeadlineExceeded",
                    'ReplicaSet "%s" has timed out progressing.' % name if name
                    else 'Deployment "%s" has timed out progressing.' % d["metadata"]["name"]))
        if omit_empty(dict(status)) == (d.get("status") or {}):
            self._requeue_stuck(d, status)
            return
        d = clone(d)
        d["status"] = status
        self._update_status(d)
        self._requeue_stuck(d, status)

    def _requeue_stuck(self, d, status):
        """requeueStuckDeployment: wake up when the progress deadline would pass."""
        current = meta.condition(d.get("status") or {}, "Progressing")
        if not has_progress_deadline(d) or current is None or deployment_complete(d, status) or current.get(
                "reason") == "ProgressDeadlineExceeded":
            return
        after = parse_time(current.get("lastUpdateTime")) + d["spec"]["progressDeadlineSeconds"] - time.time()
        self.cluster.requeue_at(time.monotonic() + max(0.05, after + 0.05))
