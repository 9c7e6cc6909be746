# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a restore starts from (a snapshot, a point in time) and the restore operation that takes it.

The four operations and their identity parameters, from botocore's service model
(botocore/data/rds/2014-10-31/service-2.json):

- RestoreDBInstanceFromDBSnapshot: DBInstanceIdentifier, DBSnapshotIdentifier;
- RestoreDBInstanceToPointInTime: TargetDBInstanceIdentifier, SourceDBInstanceIdentifier, RestoreTime or
  UseLatestRestorableTime (RestoreTime "must be before the latest restorable time"; a source with
  BackupRetentionPeriod 0 fails with PointInTimeRestoreNotEnabled);
- RestoreDBClusterFromSnapshot: DBClusterIdentifier, SnapshotIdentifier, Engine (required), and
  EngineVersion (without it "the default version for the database engine in the Region is used": the
  snapshot's version is sent, so a restore never upgrades);
- RestoreDBClusterToPointInTime: DBClusterIdentifier, SourceDBClusterIdentifier, RestoreToTime or
  UseLatestRestorableTime.

The "not now" codes retried around each call are amazon.aws's (rds module_utils get_rds_method_attribute):
a snapshot still being copied, a source busy with another change.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime

from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError
from ansible_collections.rollback.core.plugins.module_utils.rds_resume import LATEST, TAG_SNAPSHOT, TAG_TIME
from ansible_collections.rollback.core.plugins.module_utils.rds_snapshots import (
    EPOCH, SnapshotSource, iso, now, parse_time)

OPERATIONS = {
    # (cluster, by time): (boto3 method, API name, modify method, identity parameters, retried codes)
    (False, False): ("restore_db_instance_from_db_snapshot", "RestoreDBInstanceFromDBSnapshot", "modify_db_instance",
                     ("DBInstanceIdentifier", "DBSnapshotIdentifier"), ("InvalidDBSnapshotState",)),
    (False, True): ("restore_db_instance_to_point_in_time", "RestoreDBInstanceToPointInTime", "modify_db_instance",
                    ("TargetDBInstanceIdentifier", "SourceDBInstanceIdentifier", "RestoreTime",
                     "UseLatestRestorableTime", "SourceDbiResourceId", "SourceDBInstanceAutomatedBackupsArn"),
                    ("InvalidDBInstanceState",)),
    (True, False): ("restore_db_cluster_from_snapshot", "RestoreDBClusterFromSnapshot", "modify_db_cluster",
                    ("DBClusterIdentifier", "SnapshotIdentifier", "Engine", "EngineVersion"),
                    ("InvalidDBClusterSnapshotStateFault", "InvalidDBClusterSnapshotState")),
    (True, True): ("restore_db_cluster_to_point_in_time", "RestoreDBClusterToPointInTime", "modify_db_cluster",
                   ("DBClusterIdentifier", "SourceDBClusterIdentifier", "RestoreToTime", "UseLatestRestorableTime",
                    "RestoreType", "SourceDbClusterResourceId"),
                   ("InvalidDBClusterStateFault", "InvalidDBClusterState")),
}
CHOICES = ("db_snapshot_identifier", "latest", "restore_time", "use_latest_restorable_time")


class Origin:
    def __init__(self, rds, kind, params):
        self.rds = rds
        self.kind = kind
        self.params = params
        self.cluster = kind.noun == "cluster"
        self.by_time = bool(params.get("restore_time") or params.get("use_latest_restorable_time"))
        self.snapshots = SnapshotSource(rds, self.cluster)
        self.method, self.api_name, self.modify_method, self.identity, self.retry_codes = OPERATIONS[
            (self.cluster, self.by_time)]
        self.snapshot = self.time = self.data_time = self.created_before = self.restore_time = None
        self.tags = {}

    def validate(self):
        params = self.params
        chosen = [name for name in CHOICES if params.get(name)]
        if not chosen:
            raise RollbackError("choose what to restore: db_snapshot_identifier, latest: true, restore_time or "
                                "use_latest_restorable_time: true")
        if len(chosen) > 1:
            raise RollbackError("parameters are mutually exclusive: %s (choose one)" % ", ".join(chosen))
        if params.get("created_before"):
            if self.by_time:
                raise RollbackError("created_before applies to snapshots (latest, db_snapshot_identifier); "
                                    "restore_time is itself the moment")
            self.created_before = parse_time(params["created_before"], "created_before")
        if params.get("snapshot_type") not in (None, "manual") and not params.get("latest"):
            raise RollbackError("snapshot_type applies with latest: true")
        if params.get("restore_time"):
            self.restore_time = parse_time(params["restore_time"], "restore_time")
            if self.restore_time > now():
                raise RollbackError("restore_time %s is in the future" % iso(self.restore_time))

    def choose(self, source):
        """This request's origin, read against the live ``source``."""
        params = self.params
        if params.get("db_snapshot_identifier"):
            self.snapshot = self.snapshots.named(params["db_snapshot_identifier"], self.created_before)
        elif params.get("latest"):
            self.snapshot = self.snapshots.newest(source[self.kind.id_key], params["snapshot_type"],
                                                  self.created_before)
        else:
            self._check_time(source)
        self._tag()

    def _check_time(self, source):
        name = source[self.kind.id_key]
        if source.get("BackupRetentionPeriod") == 0:
            raise RollbackError("point-in-time restore needs automated backups: BackupRetentionPeriod of %s is 0 "
                                "(AWS answers PointInTimeRestoreNotEnabled)" % name)
        latest, earliest = source.get("LatestRestorableTime"), self._earliest(source)
        wanted = self.restore_time
        if wanted and isinstance(latest, datetime.datetime) and wanted > latest:
            raise RollbackError("restore_time %s is after the latest restorable time of %s, %s" % (
                iso(wanted), name, iso(latest)))
        if wanted and isinstance(earliest, datetime.datetime) and wanted < earliest:
            raise RollbackError("restore_time %s is before the earliest restorable time of %s, %s" % (
                iso(wanted), name, iso(earliest)))
        self.time = wanted or LATEST
        self.data_time = wanted or latest

    @staticmethod
    def _earliest(source):
        """A cluster says it; an instance's backups reach back its retention period, not before its creation."""
        if source.get("EarliestRestorableTime"):
            return source["EarliestRestorableTime"]
        created, days = source.get("InstanceCreateTime"), source.get("BackupRetentionPeriod")
        if not isinstance(created, datetime.datetime) or not days:
            return None
        return max(created, now() - datetime.timedelta(days=days))

    def _tag(self):
        if self.snapshot is not None:
            self.tags = {TAG_SNAPSHOT: self.snapshot[self.snapshots.id_key]}
            self.data_time = self.snapshots.taken_at(self.snapshot)
        else:
            self.tags = {TAG_TIME: iso(self.time) if self.time != LATEST else LATEST}

    def resumable(self, recorded):
        """Whether this request may finish an earlier run that restored from ``recorded``."""
        params = self.params
        if params.get("db_snapshot_identifier"):
            return recorded.get(TAG_SNAPSHOT) == params["db_snapshot_identifier"]
        if params.get("latest"):
            return TAG_SNAPSHOT in recorded  # the earlier run's choice stands: newer snapshots may hold bad data
        if params.get("use_latest_restorable_time"):
            return recorded.get(TAG_TIME) == LATEST
        return recorded.get(TAG_TIME) == iso(self.restore_time)

    def same_as(self, recorded):
        return recorded == self.tags

    def resume(self, recorded):
        self.tags = dict(recorded)
        if TAG_SNAPSHOT in recorded:
            self.snapshot = self.snapshots.find(recorded[TAG_SNAPSHOT]) or {
                self.snapshots.id_key: recorded[TAG_SNAPSHOT]}
            taken = self.snapshots.taken_at(self.snapshot)
            self.data_time = None if taken == EPOCH else taken
        else:
            self.time = LATEST if recorded.get(TAG_TIME) == LATEST else parse_time(recorded[TAG_TIME], "the tag")
            self.data_time = None if self.time == LATEST else self.time

    def arguments(self, source, target):
        """The restore call's identity arguments for a restore of ``source`` named ``target``."""
        name = source[self.kind.id_key]
        if not self.by_time:
            snapshot_id = self.snapshot[self.snapshots.id_key]
            if not self.cluster:
                return dict(DBInstanceIdentifier=target, DBSnapshotIdentifier=snapshot_id)
            arguments = dict(DBClusterIdentifier=target, SnapshotIdentifier=snapshot_id, Engine=source["Engine"])
            if self.snapshot.get("EngineVersion"):
                arguments["EngineVersion"] = self.snapshot["EngineVersion"]
            return arguments
        moment = dict(UseLatestRestorableTime=True) if self.time == LATEST else None
        if self.cluster:
            return dict(DBClusterIdentifier=target, SourceDBClusterIdentifier=name,
                        **(moment or dict(RestoreToTime=self.time)))
        return dict(TargetDBInstanceIdentifier=target, SourceDBInstanceIdentifier=name,
                    **(moment or dict(RestoreTime=self.time)))

    def restore(self, arguments):
        self.rds.call(self.method, retry_codes=self.retry_codes, **arguments)

    def members(self):
        return self.rds.input_members(self.method), self.rds.input_members(self.modify_method)

    def operation_names(self):
        return self.api_name, "ModifyDBCluster" if self.cluster else "ModifyDBInstance"

    def reserved(self):
        return set(self.identity) | set(["Tags"])

    def describe(self):
        if self.snapshot is not None:
            return "snapshot %s" % self.snapshot[self.snapshots.id_key]
        return "the latest restorable time" if self.time == LATEST else "the point in time %s" % iso(self.time)

    def result(self):
        end = now()
        window = None
        if self.data_time is not None:
            window = dict(start=iso(self.data_time), end=iso(end), seconds=int((end - self.data_time).total_seconds()))
        return dict(snapshot=self.snapshots.describe(self.snapshot) if self.snapshot is not None else None,
                    restore_time=None if self.time is None else dict(
                        time=None if self.time == LATEST else iso(self.time), latest=self.time == LATEST),
                    data_loss_window=window)
