# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every setting of the source carried into the restored instance or cluster.

A restore creates a new resource with AWS's defaults for everything it is not told (the service model's
documentation of RestoreDBInstanceFromDBSnapshot: DeletionProtection "isn't enabled" by default,
VpcSecurityGroupIds "the default EC2 VPC security group", DBParameterGroupName "the default
DBParameterGroup", and the source's tags are copied only when no Tags are given). So each setting below is
read from the source and sent:

- with the restore call, when that operation accepts the parameter (botocore's service model decides, so a
  newer botocore moves settings from "after" to "restore" by itself);
- else with one ModifyDBInstance / ModifyDBCluster once the restored resource is available ("after"),
  only for the values that differ from what the restore produced;
- the settings in ``NOT_COPIED`` are left as the restore makes them, for the reason given.

A value the user gives (the module's options, or ``restore_options`` by API name) overrides the source's.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError

TAG_PREFIX = "rollback.core/"
# gp3 volumes below the engine's threshold (400 GiB for PostgreSQL/MySQL/MariaDB) report this baseline and
# refuse a request that names it (RDS User Guide, "gp3 storage"): sending it back would fail the restore.
GP3_BASELINE = (3000, 125)


def _get(key):
    return lambda source: source.get(key)


def _path(*keys):
    def read(source):
        value = source
        for key in keys:
            if isinstance(value, list):
                value = value[0] if value else None
            value = (value or {}).get(key)
        return value
    return read


def _nonempty(key):
    return lambda source: source.get(key) or None


def _only_true(key):
    return lambda source: True if source.get(key) else None


def _storage(key):
    """Iops / StorageThroughput, except a gp3 small volume's fixed baseline."""
    def read(source):
        if source.get("StorageType") == "gp3" and (source.get("Iops"), source.get("StorageThroughput")) == GP3_BASELINE:
            return None
        return source.get(key)
    return read


def _allocated_storage(source):
    # "This setting isn't valid for RDS for SQL Server" (RestoreDBInstanceFromDBSnapshot.AllocatedStorage).
    return None if (source.get("Engine") or "").startswith("sqlserver") else source.get("AllocatedStorage")


def _option_group(key, name_key):
    """A custom option group; a ``default:<engine>-<version>`` one is what the restore picks by itself (and
    names the source's version, not necessarily the snapshot's)."""
    def read(source):
        name = _path(key, name_key)(source)
        return None if not name or name.startswith("default:") else name
    return read


def _security_groups(source):
    return sorted(g["VpcSecurityGroupId"] for g in source.get("VpcSecurityGroups") or []
                  if g.get("Status") not in ("removing", "inactive")) or None


def _performance_insights(key):
    return lambda source: source.get(key) if source.get("PerformanceInsightsEnabled") else None


def _multi_az_cluster(read):
    """Cluster settings "valid for Multi-AZ DB clusters only" (the service model): not sent for Aurora."""
    return lambda source: read(source) if source.get("DBClusterInstanceClass") else None


# (API parameter, how to read the source's value). The parameter has the same name in the restore calls
# and in ModifyDBInstance, except EnableCloudwatchLogsExports (see modify_arguments).
INSTANCE_SETTINGS = (
    ("DBInstanceClass", _get("DBInstanceClass")),
    ("Port", _path("Endpoint", "Port")),
    ("DBSubnetGroupName", _path("DBSubnetGroup", "DBSubnetGroupName")),
    ("VpcSecurityGroupIds", _security_groups),
    ("DBParameterGroupName", _path("DBParameterGroups", "DBParameterGroupName")),
    ("OptionGroupName", _option_group("OptionGroupMemberships", "OptionGroupName")),
    ("MultiAZ", _get("MultiAZ")),
    ("PubliclyAccessible", _get("PubliclyAccessible")),
    ("DeletionProtection", _get("DeletionProtection")),
    ("CopyTagsToSnapshot", _get("CopyTagsToSnapshot")),
    ("EnableIAMDatabaseAuthentication", _get("IAMDatabaseAuthenticationEnabled")),
    ("EnableCloudwatchLogsExports", _nonempty("EnabledCloudwatchLogsExports")),
    ("CACertificateIdentifier", _get("CACertificateIdentifier")),
    ("StorageType", _get("StorageType")),
    ("AllocatedStorage", _allocated_storage),
    ("Iops", _storage("Iops")),
    ("StorageThroughput", _storage("StorageThroughput")),
    ("MaxAllocatedStorage", _get("MaxAllocatedStorage")),
    ("BackupRetentionPeriod", _get("BackupRetentionPeriod")),
    ("PreferredBackupWindow", _get("PreferredBackupWindow")),
    ("PreferredMaintenanceWindow", _get("PreferredMaintenanceWindow")),
    ("AutoMinorVersionUpgrade", _get("AutoMinorVersionUpgrade")),
    ("LicenseModel", _get("LicenseModel")),
    ("MonitoringInterval", _get("MonitoringInterval")),
    ("MonitoringRoleArn", _get("MonitoringRoleArn")),
    ("EnablePerformanceInsights", _get("PerformanceInsightsEnabled")),
    ("PerformanceInsightsKMSKeyId", _performance_insights("PerformanceInsightsKMSKeyId")),
    ("PerformanceInsightsRetentionPeriod", _performance_insights("PerformanceInsightsRetentionPeriod")),
    ("DatabaseInsightsMode", _get("DatabaseInsightsMode")),
    ("EngineLifecycleSupport", _get("EngineLifecycleSupport")),
    ("NetworkType", _get("NetworkType")),
    ("ProcessorFeatures", _nonempty("ProcessorFeatures")),
    ("DedicatedLogVolume", _get("DedicatedLogVolume")),
    ("EnableCustomerOwnedIp", _only_true("CustomerOwnedIpEnabled")),
    ("BackupTarget", _get("BackupTarget")),
    ("CustomIamInstanceProfile", _get("CustomIamInstanceProfile")),
)

CLUSTER_SETTINGS = (
    ("Port", _get("Port")),
    ("DBSubnetGroupName", _get("DBSubnetGroup")),
    ("VpcSecurityGroupIds", _security_groups),
    ("DBClusterParameterGroupName", _get("DBClusterParameterGroup")),
    ("OptionGroupName", _option_group("DBClusterOptionGroupMemberships", "DBClusterOptionGroupName")),
    ("DeletionProtection", _get("DeletionProtection")),
    ("CopyTagsToSnapshot", _get("CopyTagsToSnapshot")),
    ("EnableIAMDatabaseAuthentication", _get("IAMDatabaseAuthenticationEnabled")),
    ("EnableCloudwatchLogsExports", _nonempty("EnabledCloudwatchLogsExports")),
    ("BacktrackWindow", lambda source: source.get("BacktrackWindow") or None),
    ("EngineMode", _get("EngineMode")),
    ("ScalingConfiguration", lambda source: _scaling(source) if source.get("EngineMode") == "serverless" else None),
    ("ServerlessV2ScalingConfiguration", _nonempty("ServerlessV2ScalingConfiguration")),
    ("StorageType", _get("StorageType")),
    ("BackupRetentionPeriod", _get("BackupRetentionPeriod")),
    ("PreferredBackupWindow", _get("PreferredBackupWindow")),
    ("PreferredMaintenanceWindow", _get("PreferredMaintenanceWindow")),
    ("NetworkType", _get("NetworkType")),
    ("EngineLifecycleSupport", _get("EngineLifecycleSupport")),
    ("CACertificateIdentifier", _path("CertificateDetails", "CAIdentifier")),
    ("DatabaseInsightsMode", _get("DatabaseInsightsMode")),
    ("EnableHttpEndpoint", _only_true("HttpEndpointEnabled")),
    ("DBClusterInstanceClass", _multi_az_cluster(_get("DBClusterInstanceClass"))),
    ("Iops", _multi_az_cluster(_get("Iops"))),
    ("PubliclyAccessible", _multi_az_cluster(_get("PubliclyAccessible"))),
    ("AutoMinorVersionUpgrade", _multi_az_cluster(_get("AutoMinorVersionUpgrade"))),
    ("MonitoringInterval", _multi_az_cluster(_get("MonitoringInterval"))),
    ("MonitoringRoleArn", _multi_az_cluster(_get("MonitoringRoleArn"))),
    ("EnablePerformanceInsights", _multi_az_cluster(_get("PerformanceInsightsEnabled"))),
    ("PerformanceInsightsKMSKeyId", _multi_az_cluster(_performance_insights("PerformanceInsightsKMSKeyId"))),
    ("PerformanceInsightsRetentionPeriod",
     _multi_az_cluster(_performance_insights("PerformanceInsightsRetentionPeriod"))),
)

# Settings of a cluster's writer and readers, sent with CreateDBInstance (an Aurora restore creates none).
MEMBER_SETTINGS = (
    ("DBInstanceClass", _get("DBInstanceClass")),
    ("DBParameterGroupName", _path("DBParameterGroups", "DBParameterGroupName")),
    ("PromotionTier", _get("PromotionTier")),
    ("AvailabilityZone", _get("AvailabilityZone")),
    ("PubliclyAccessible", _get("PubliclyAccessible")),
    ("AutoMinorVersionUpgrade", _get("AutoMinorVersionUpgrade")),
    ("PreferredMaintenanceWindow", _get("PreferredMaintenanceWindow")),
    ("CACertificateIdentifier", _get("CACertificateIdentifier")),
    ("CopyTagsToSnapshot", _get("CopyTagsToSnapshot")),
    ("MonitoringInterval", _get("MonitoringInterval")),
    ("MonitoringRoleArn", _get("MonitoringRoleArn")),
    ("EnablePerformanceInsights", _get("PerformanceInsightsEnabled")),
    ("PerformanceInsightsKMSKeyId", _performance_insights("PerformanceInsightsKMSKeyId")),
    ("PerformanceInsightsRetentionPeriod", _performance_insights("PerformanceInsightsRetentionPeriod")),
)

# Left as the restore makes them, and why (the module's documentation repeats this table).
NOT_COPIED = (
    ("Engine, EngineVersion, storage encryption and KMS key, master user name, database name, character set, "
     "time zone", "they come from the snapshot or backup itself"),
    ("AvailabilityZone", "AWS chooses one (it cannot be given for Multi-AZ; the source's zone may lack "
                         "capacity); give it in restore_options to pin it"),
    ("Master user password, ManageMasterUserPassword",
     "the restored data keeps the snapshot's password; a managed secret would be a new one the application does "
     "not know"),
    ("Domain (Kerberos) membership, TDE credentials, additional storage volumes",
     "they need credentials or values the description does not return; give them in restore_options"),
    ("IAM roles (AssociatedRoles), activity streams, cross-Region automated backup replication, read replicas",
     "separate APIs, not part of a restore; listed in the result to re-create"),
)


def _scaling(source):
    info = dict(source.get("ScalingConfigurationInfo") or {})
    keys = ("MinCapacity", "MaxCapacity", "AutoPause", "SecondsUntilAutoPause", "TimeoutAction", "SecondsBeforeTimeout")
    return dict((k, v) for k, v in info.items() if k in keys) or None


def carried_tags(source, ours):
    """The source's own tags (not AWS's ``aws:`` ones, not a previous rollback's) plus ``ours``."""
    tags = dict((t["Key"], t["Value"]) for t in source.get("TagList") or []
                if not t["Key"].startswith("aws:") and not t["Key"].startswith(TAG_PREFIX))
    tags.update(ours)
    return [dict(Key=key, Value=value) for key, value in sorted(tags.items())]


class Plan:
    """The settings split into the restore call's arguments and the ones applied after.

    ``operations`` names the restore and modify operations (for messages), ``reserved`` the parameters the
    module sets itself (identifiers, the source, the point in time, the tags that make a re-run resume).
    """

    def __init__(self, settings, source, members, options, operations, reserved):
        restore_members, modify_members = members
        taken = sorted(name for name, value in options.items() if value is not None and name in reserved)
        if taken:
            raise RollbackError("restore_options cannot set %s: the module sets it" % ", ".join(taken))
        unknown = sorted(name for name, value in options.items()
                         if value is not None and name not in restore_members and name not in modify_members)
        if unknown:
            raise RollbackError("restore_options not accepted by %s nor by %s: %s" % (
                operations[0], operations[1], ", ".join(unknown)))
        self.restore, self.after, self.sources, self.unsupported = {}, {}, {}, []
        desired = {}
        for name, read in settings:
            value = read(source)
            if value is not None:
                desired[name], self.sources[name] = value, "source"
        for name, value in options.items():
            if value is not None:
                desired[name], self.sources[name] = value, "given"
        for name, value in desired.items():
            if name in restore_members:
                self.restore[name] = value
            elif name in modify_members:
                self.after[name] = value
            else:  # an older botocore without the parameter
                self.unsupported.append(name)

    def table(self):
        """Each setting sent, how, and whether it was the source's or given."""
        rows = [dict(setting=name, value=value, applied="at restore", origin=self.sources[name])
                for name, value in sorted(self.restore.items())]
        rows += [dict(setting=name, value=value, applied="after restore", origin=self.sources[name])
                 for name, value in sorted(self.after.items())]
        return rows


def classify(settings, restore_members, modify_members):
    """(setting, "at restore" | "after restore" | "not accepted") for the documentation test."""
    return [(name, "at restore" if name in restore_members else "after restore" if name in modify_members
             else "not accepted") for name, _read in settings]


def modify_arguments(after, current, settings):
    """The ``after`` settings whose value differs from the restored resource's ``current`` one."""
    readers = dict(settings)
    changes = {}
    for name, value in sorted(after.items()):
        read = readers.get(name)
        if read is not None and _same(read(current), value):
            continue
        if name == "EnableCloudwatchLogsExports":
            now = set(read(current) or []) if read else set()
            changes["CloudwatchLogsExportConfiguration"] = dict(EnableLogTypes=sorted(set(value) - now),
                                                                DisableLogTypes=sorted(now - set(value)))
            continue
        changes[name] = value
    return changes


def pending(after, current, settings):
    """Names of ``after`` settings the restored resource does not show yet (a wait's until)."""
    readers = dict(settings)
    return sorted(name for name, value in after.items()
                  if name in readers and not _same(readers[name](current), value))


def _same(actual, wanted):
    if isinstance(wanted, list) and isinstance(actual, list):
        return sorted(map(repr, actual)) == sorted(map(repr, wanted))
    if isinstance(wanted, str) and isinstance(actual, str):
        return actual.lower() == wanted.lower()  # AWS stores maintenance windows lower-cased
    return actual == wanted
