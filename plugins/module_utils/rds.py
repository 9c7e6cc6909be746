# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""RDS restore (snapshot or point in time, instance or cluster) beside the live one, then an optional swap.

Nothing is deleted: the source is renamed to ``<source>-pre-rollback-<stamp>`` and the restored resource
takes the source's name, so the application's endpoint name stays. Every setting of the source is carried
over (rds_settings.py), the swap is waited through to the end (rds_cutover.py) and a re-run continues
where an earlier one stopped (rds_resume.py).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.rollback.core.plugins.module_utils.aws import AwsClient
from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError
from ansible_collections.rollback.core.plugins.module_utils.rds_clusters import Members, derived_name
from ansible_collections.rollback.core.plugins.module_utils.rds_cutover import (
    Cutover, check_isolation_groups, refuse_replicas, resolve)
from ansible_collections.rollback.core.plugins.module_utils.rds_origin import Origin
from ansible_collections.rollback.core.plugins.module_utils.rds_resources import ClusterKind, InstanceKind, tags_of
from ansible_collections.rollback.core.plugins.module_utils.rds_resume import (
    TAG_REPLACED, Job, describe_origin, find_job, orphan_old, restore_tags)
from ansible_collections.rollback.core.plugins.module_utils.rds_settings import (
    CLUSTER_SETTINGS, INSTANCE_SETTINGS, Plan, carried_tags, modify_arguments, pending)
from ansible_collections.rollback.core.plugins.module_utils.rds_snapshots import now

# The module's own options, by the API parameter they set (clusters: see cluster_options).
INSTANCE_OPTIONS = (("db_instance_class", "DBInstanceClass"), ("db_subnet_group_name", "DBSubnetGroupName"),
                    ("vpc_security_group_ids", "VpcSecurityGroupIds"),
                    ("db_parameter_group_name", "DBParameterGroupName"), ("multi_az", "MultiAZ"))
CLUSTER_OPTIONS = (("db_subnet_group_name", "DBSubnetGroupName"), ("vpc_security_group_ids", "VpcSecurityGroupIds"),
                   ("db_parameter_group_name", "DBClusterParameterGroupName"))


class RdsRestore:
    def __init__(self, module, rds=None, ec2=None):
        self.module = module
        self.params = params = module.params
        self.rds = rds or AwsClient(params, "rds")
        self._ec2 = ec2
        self.cluster = bool(params.get("db_cluster_identifier"))
        self.kind = (ClusterKind if self.cluster else InstanceKind)(self.rds, module)
        self.settings = CLUSTER_SETTINGS if self.cluster else INSTANCE_SETTINGS
        self.source_id = params.get("db_cluster_identifier") or params["db_instance_identifier"]
        self.stamp = now().strftime("%Y%m%d%H%M%S")
        self.changes = []
        self.cutover = Cutover(self.kind, module, self.changes)
        self.members = Members(self.kind, module, self.changes)
        self.origin = Origin(self.rds, self.kind, params)
        self.planned = {}

    def validate(self):
        params = self.params
        self.origin.validate()
        if not params["swap"]:
            for option, default in (("old_instance", "keep"), ("verify_dns", False)):
                if params[option] != default:
                    raise RollbackError("%s needs swap: true (without a swap the source stays live)" % option)
        elif not params["wait"]:
            raise RollbackError("swap needs wait: true: each rename waits for the restored %s" % self.kind.noun)
        if params["isolation_security_group_ids"] and params["old_instance"] != "isolate":
            raise RollbackError("isolation_security_group_ids applies with old_instance: isolate")
        if self.cluster and params["multi_az"] is not None:
            raise RollbackError("multi_az applies to DB instances; a restored cluster keeps the source's layout")

    def run(self):
        self.validate()
        everything = self.kind.all()
        live = next((r for r in everything if r[self.kind.id_key] == self.source_id), None)
        if self.params["swap"]:
            return self.swap(everything, live)
        return self.beside(everything, live)

    def beside(self, everything, live):
        if live is None:
            raise RollbackError("source %s %s not found" % (self.kind.noun, self.source_id))
        self.origin.choose(live)
        target = self.params["target_db_cluster_identifier" if self.cluster else "target_db_instance_identifier"]
        jobs = [job for job in find_job(self.kind, everything, self.source_id, "beside", target)
                if self.origin.same_as(job.origin)]
        if jobs:
            job = max(jobs, key=lambda j: j.stamp)
        else:
            target = target or derived_name(self.source_id, "rb-" + self.stamp)
            if any(r[self.kind.id_key] == target for r in everything):
                raise RollbackError("target %s %s already exists" % (self.kind.noun, target))
            job = self.restore(live, target, "beside")
            if job is None:
                return self.result(None, live)
        final = self.finish_restore(job, live)
        return self.result(job, final)

    def swap(self, everything, live):
        jobs = find_job(self.kind, everything, self.source_id, "swap")
        unfinished = [job for job in jobs if not job.cut_over]
        job = None
        if unfinished:
            job = unfinished[0]
            if not self.origin.resumable(job.origin):
                raise RollbackError("an unfinished restore of %s from %s exists (%s %s): re-run with the same choice "
                                    "to finish it, or delete %s to restore from something else" % (
                                        self.source_id, describe_origin(job.origin), self.kind.noun,
                                        job.restored_name, job.restored_name))
            self.origin.resume(job.origin)
        elif live is None:
            orphan = orphan_old(everything, self.source_id)
            if orphan is None:
                raise RollbackError("source %s %s not found" % (self.kind.noun, self.source_id))
            # The old one is renamed away and the restored one is taking the source's name right now.
            live = self.kind.wait_available(self.source_id, why="(the restored one, being renamed) to be available")
            if live is None and self.module.check_mode:
                live = self.kind.get(self.source_id)
            if live is None:
                raise RollbackError("%s %s was renamed to %s by an earlier run and nothing has its name yet" % (
                    self.kind.noun, self.source_id, orphan[1][self.kind.id_key]))
            job = Job(self.kind, self.source_id, live, old=orphan[1])
            self.origin.resume(job.origin)
        else:
            # A finished swap of exactly this request (the live one is its restore: not checked as a source).
            done = [j for j in jobs if j.cut_over and self.origin.resumable(j.origin)]
            if done and not self.params["latest"]:
                job = done[0]
                self.origin.resume(job.origin)
            else:
                self.origin.choose(live)
                done = [j for j in jobs if j.cut_over and self.origin.same_as(j.origin)]
                job = done[0] if done else None
        if job is None:
            job = self.start_swap(everything, live)
            if job is None:
                return self.result(None, live)
        source = live if live is not None and live is not job.restored else job.old
        final = self.finish_restore(job, source)
        old = live if live is not None and not job.cut_over else job.old
        return self.finish_swap(job, final, old)

    def start_swap(self, everything, live):
        """Checks before any change, then the restore under a temporary name."""
        params = self.params
        self.replicas_left = refuse_replicas(self.kind, live, params["read_replicas"])
        if params["old_instance"] == "stop" and self.replicas_left:
            raise RollbackError("old_instance: stop is refused for a %s with read replicas (AWS cannot stop it)"
                                % self.kind.noun)
        if params["old_instance"] == "isolate":
            check_isolation_groups(self.ec2, params["isolation_security_group_ids"])
        names = [derived_name(self.source_id, "rb-" + self.stamp),
                 derived_name(self.source_id, "pre-rollback-" + self.stamp)]
        taken = [name for name in names if any(r[self.kind.id_key] == name for r in everything)]
        if taken:
            raise RollbackError("%s %s already exists; re-run in a second" % (self.kind.noun, taken[0]))
        return self.restore(live, names[0], "swap")

    def plan(self, source):
        params = self.params
        options = dict((api, params[option]) for option, api in
                       (CLUSTER_OPTIONS if self.cluster else INSTANCE_OPTIONS))
        options.update(params["restore_options"] or {})
        return Plan(self.settings, source, self.origin.members(), options, self.origin.operation_names(),
                    self.origin.reserved())

    def restore(self, source, target, cutover):
        """Send the restore (tagged for re-runs); None in check mode, after recording the plan."""
        plan = self.plan(source)
        tags = restore_tags(self.source_id, self.stamp, cutover, self.origin.tags)
        arguments = self.origin.arguments(source, target)
        arguments.update(plan.restore)
        arguments["Tags"] = carried_tags(source, tags)
        self.planned = dict(restore_arguments=arguments, plan=plan, target=target)
        if self.cluster:
            self.planned["members"] = self.members.plan(source, target, self.stamp, tags,
                                                        self.params["db_instance_class"])
        if self.module.check_mode:
            self.changes.append("would restore %s %s from %s" % (self.kind.noun, target, self.origin.describe()))
            return None
        self.origin.restore(arguments)
        self.changes.append("restored %s %s from %s" % (self.kind.noun, target, self.origin.describe()))
        restored = {self.kind.id_key: target, "TagList": arguments["Tags"]}
        return Job(self.kind, self.source_id, restored, started_here=True)

    def finish_restore(self, job, source):
        """Wait for the restored resource, apply the settings the restore call does not take, add members."""
        name = job.restored_name
        plan = self.plan(source) if source is not None else None
        if plan is not None:
            self.planned.setdefault("plan", plan)
        current = self.kind.wait_available(name)
        if current is not None and plan is not None and plan.after:
            changes = modify_arguments(plan.after, current, self.settings)
            if changes:
                self.kind.modify(name, **changes)
                self.changes.append("applied after the restore to %s: %s" % (name, ", ".join(sorted(changes))))
                watched = dict((k, v) for k, v in plan.after.items() if plan.sources[k] == "source" and k in changes)
                current = self.kind.wait_available(
                    name, until=lambda r: pending(watched, r, self.settings),
                    why="to show the settings applied after the restore") or current
        elif current is None and plan is not None and plan.after and not self.module.check_mode:
            self.module.warn("settings %s of %s are applied once it is available: re-run with wait: true" % (
                ", ".join(sorted(plan.after)), name))
        if self.cluster and source is not None:
            members = self.members.plan(source, name, job.stamp, tags_of(job.restored),
                                        self.params["db_instance_class"])
            self.planned["members"] = self.members.create(members)
        return current or self.kind.get(name) or job.restored

    def finish_swap(self, job, restored, old):
        params = self.params
        previous = derived_name(self.source_id, "pre-rollback-" + job.stamp)
        self.old_state, self.dns = None, None
        restored_addresses = []
        if not job.cut_over:
            if old is not None and old[self.kind.id_key] == self.source_id:
                self.replicas_left = refuse_replicas(self.kind, old, params["read_replicas"])
                marker = "%s@%s" % (self.source_id, job.stamp)
                if tags_of(old).get(TAG_REPLACED) != marker and not self.module.check_mode:
                    self.kind.add_tags(old, {TAG_REPLACED: marker})
            if params["verify_dns"]:
                restored_addresses = resolve(self.kind.endpoint(restored) or "")
            old = self.cutover.rename(old, self.source_id, previous)
            restored = self.cutover.rename(restored, job.restored_name, self.source_id)
            job.restored = restored
        old = self.kind.get(previous) or old
        if old is not None:
            self.old_state = self.cutover.fence(old, params["old_instance"], params["isolation_security_group_ids"])
        if params["verify_dns"]:
            old_addresses = resolve(self.kind.endpoint(old) or "") if old is not None else []
            self.dns = self.cutover.verify_dns(self.kind.endpoint(restored), restored_addresses, old_addresses)
        return self.result(job, restored, previous)

    def result(self, job, final, previous=None):
        planned = self.planned
        result = dict(changed=bool(self.changes), steps=list(self.changes))
        result.update(self.origin.result())
        plan = planned.get("plan")
        if plan is not None:
            result["settings"] = plan.table()
            if plan.unsupported:
                result["settings_not_sent"] = sorted(plan.unsupported)
        if planned.get("restore_arguments"):
            result["restore_arguments"] = planned["restore_arguments"]
        if job is None:  # check mode, nothing restored yet
            final = {self.kind.id_key: planned["target"] if not self.params["swap"] else self.source_id,
                     self.kind.status_key: "would be restored"}
        if self.cluster:
            result["db_cluster"] = describe_cluster(final)
            result["previous_db_cluster_identifier"] = previous
            result["members"] = planned.get("members") or []
        else:
            result["db_instance"] = describe_instance(final)
            result["previous_db_instance_identifier"] = previous
        if self.params["swap"] and job is None:
            result["previous_%s_identifier" % ("db_cluster" if self.cluster else "db_instance")] = derived_name(
                self.source_id, "pre-rollback-" + self.stamp)
        result["old_instance"] = getattr(self, "old_state", None)
        result["dns"] = getattr(self, "dns", None)
        result["read_replicas_left"] = getattr(self, "replicas_left", None) or []
        result["resumed"] = bool(job is not None and not job.started_here)
        return result

    @property
    def ec2(self):
        if self._ec2 is None:
            self._ec2 = AwsClient(self.params, "ec2")
        return self._ec2


def describe_instance(instance):
    endpoint = instance.get("Endpoint") or {}
    return dict(id=instance["DBInstanceIdentifier"], address=endpoint.get("Address"), port=endpoint.get("Port"),
                status=instance.get("DBInstanceStatus"), instance_class=instance.get("DBInstanceClass"))


def describe_cluster(cluster):
    return dict(id=cluster["DBClusterIdentifier"], endpoint=cluster.get("Endpoint"),
                reader_endpoint=cluster.get("ReaderEndpoint"), port=cluster.get("Port"), status=cluster.get("Status"),
                members=[m["DBInstanceIdentifier"] for m in cluster.get("DBClusterMembers") or []])


def restore(module):
    return RdsRestore(module).run()
