# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""RDS restore from a snapshot to a new instance, then an optional swap of names.

Nothing is deleted: the source instance is renamed to
``<source>-pre-rollback-<ts>`` and the restored one takes the source's name, so
the application's endpoint name stays. The restored instance is tagged with the
snapshot it came from, which makes a re-run recognise a finished restore.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime

from ansible_collections.rollback.core.plugins.module_utils.aws import AwsClient
from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError
from ansible_collections.rollback.core.plugins.module_utils.wait import Waiter

RESTORED_FROM_TAG = "rollback.core/restored-from-snapshot"
INSTANCE_NOT_FOUND = ("DBInstanceNotFound", "DBInstanceNotFoundFault")
SNAPSHOT_NOT_FOUND = ("DBSnapshotNotFound", "DBSnapshotNotFoundFault")
# Settings of the source that restore_db_instance_from_db_snapshot cannot take: re-apply them after.
NOT_RESTORABLE = ("BackupRetentionPeriod", "PreferredBackupWindow", "PreferredMaintenanceWindow",
                  "MonitoringInterval", "PerformanceInsightsEnabled")
COPIED = (
    ("db_instance_class", "DBInstanceClass", lambda source: source.get("DBInstanceClass")),
    ("db_subnet_group_name", "DBSubnetGroupName", lambda source: (source.get("DBSubnetGroup") or {}).get(
        "DBSubnetGroupName")),
    ("vpc_security_group_ids", "VpcSecurityGroupIds", lambda source: [
        group["VpcSecurityGroupId"] for group in source.get("VpcSecurityGroups", [])] or None),
    ("db_parameter_group_name", "DBParameterGroupName", lambda source: (
        source.get("DBParameterGroups") or [{}])[0].get("DBParameterGroupName")),
    ("multi_az", "MultiAZ", lambda source: source.get("MultiAZ")),
)


def _now():
    return datetime.datetime.now(datetime.timezone.utc)


def _iso(moment):
    return moment.isoformat() if hasattr(moment, "isoformat") else moment


class RdsRestore:
    def __init__(self, module, rds=None):
        self.module = module
        self.params = module.params
        self.rds = rds or AwsClient(module.params, "rds")
        self.stamp = _now().strftime("%Y%m%d%H%M%S")

    def instance(self, identifier):
        found = self.rds.not_found("describe_db_instances", INSTANCE_NOT_FOUND, DBInstanceIdentifier=identifier)
        return found["DBInstances"][0] if found and found.get("DBInstances") else None

    def snapshot(self, source_id):
        if self.params["db_snapshot_identifier"]:
            name = self.params["db_snapshot_identifier"]
            found = self.rds.not_found("describe_db_snapshots", SNAPSHOT_NOT_FOUND, DBSnapshotIdentifier=name)
            if not found or not found.get("DBSnapshots"):
                raise RollbackError("snapshot %s not found" % name)
            snapshot = found["DBSnapshots"][0]
        else:
            kind = self.params["snapshot_type"]
            listed = self.rds.call("describe_db_snapshots", DBInstanceIdentifier=source_id, SnapshotType=kind)
            available = [s for s in listed.get("DBSnapshots", []) if s.get("Status") == "available"]
            if not available:
                raise RollbackError("no available %s snapshot of %s (found: %s)" % (
                    kind, source_id, ", ".join("%s (%s)" % (s["DBSnapshotIdentifier"], s.get("Status"))
                                               for s in listed.get("DBSnapshots", [])) or "none"))
            snapshot = max(available, key=lambda s: s["SnapshotCreateTime"])
        if snapshot.get("Status") != "available":
            raise RollbackError("snapshot %s is %s, not available" % (snapshot["DBSnapshotIdentifier"],
                                                                      snapshot.get("Status")))
        return snapshot

    def restore_arguments(self, source, snapshot, target):
        arguments = dict(DBInstanceIdentifier=target, DBSnapshotIdentifier=snapshot["DBSnapshotIdentifier"],
                         Tags=[dict(Key=RESTORED_FROM_TAG, Value=snapshot["DBSnapshotIdentifier"])])
        for option, api_name, from_source in COPIED:
            value = self.params[option] if self.params[option] is not None else from_source(source)
            if value is not None:
                arguments[api_name] = value
        extra = dict(self.params["restore_options"] or {})
        unknown = sorted(set(extra) - self.rds.input_members("restore_db_instance_from_db_snapshot"))
        if unknown:
            raise RollbackError("restore_options not accepted by RestoreDBInstanceFromDBSnapshot: %s"
                                % ", ".join(unknown))
        arguments.update(extra)
        for name in NOT_RESTORABLE:
            if source.get(name) not in (None, False, 0, ""):
                self.module.warn("%s=%s of %s is not carried over by a snapshot restore: re-apply it to %s with "
                                 "modify_db_instance" % (name, source[name], source["DBInstanceIdentifier"], target))
        return arguments

    def wait_available(self, identifier):
        def probe():
            found = self.instance(identifier)
            status = found.get("DBInstanceStatus") if found else "not found"
            return status == "available", "status %s" % status

        Waiter(self.module).wait(probe, "RDS instance %s to be available" % identifier)

    def run(self):
        params = self.params
        if not params["db_snapshot_identifier"] and not params["latest"]:
            raise RollbackError("choose the snapshot: db_snapshot_identifier, or latest: true")
        source_id = params["db_instance_identifier"]
        source = self.instance(source_id)
        if source is None:
            raise RollbackError("source instance %s not found" % source_id)
        snapshot = self.snapshot(source_id)
        snapshot_id = snapshot["DBSnapshotIdentifier"]
        target = params["target_db_instance_identifier"] or "%s-rb-%s" % (source_id, self.stamp)
        previous = "%s-pre-rollback-%s" % (source_id, self.stamp) if params["swap"] else None
        result = dict(snapshot=dict(id=snapshot_id, create_time=_iso(snapshot.get("SnapshotCreateTime")),
                                    type=snapshot.get("SnapshotType")),
                      data_loss_window=self.data_loss_window(snapshot), previous_db_instance_identifier=None)
        existing_target = self.instance(target)
        done = source if params["swap"] else existing_target
        if done is not None and restored_from(done) == snapshot_id:
            result.update(changed=False, db_instance=describe(done))
            return result
        if existing_target is not None:
            raise RollbackError("target instance %s already exists" % target)
        if previous and self.instance(previous) is not None:
            raise RollbackError("instance %s already exists; re-run in a second" % previous)
        arguments = self.restore_arguments(source, snapshot, target)
        result.update(changed=True, restore_arguments=arguments, previous_db_instance_identifier=previous)
        if self.module.check_mode:
            result["db_instance"] = dict(id=source_id if previous else target, address=None, port=None,
                                         status="would be restored")
            return result
        self.rds.call("restore_db_instance_from_db_snapshot", **arguments)
        self.wait_available(target)
        final = target
        if previous:
            self.rename(source_id, previous)
            self.rename(target, source_id)
            final = source_id
        result["db_instance"] = describe(self.instance(final))
        return result

    def rename(self, old, new):
        self.rds.call("modify_db_instance", DBInstanceIdentifier=old, NewDBInstanceIdentifier=new,
                      ApplyImmediately=True)
        self.wait_available(new)

    @staticmethod
    def data_loss_window(snapshot):
        created = snapshot.get("SnapshotCreateTime")
        if not isinstance(created, datetime.datetime):
            return None
        now = _now()
        return dict(start=_iso(created), end=_iso(now), seconds=int((now - created).total_seconds()))


def restored_from(instance):
    """The snapshot a previous run restored this instance from (its tag), or None."""
    return dict((tag["Key"], tag["Value"]) for tag in instance.get("TagList", [])).get(RESTORED_FROM_TAG)


def describe(instance):
    endpoint = instance.get("Endpoint") or {}
    return dict(id=instance["DBInstanceIdentifier"], address=endpoint.get("Address"), port=endpoint.get("Port"),
                status=instance.get("DBInstanceStatus"), instance_class=instance.get("DBInstanceClass"))


def restore(module):
    return RdsRestore(module).run()
