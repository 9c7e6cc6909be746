#!/usr/bin/python
# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: rds_snapshot_restore
short_description: Restore an RDS instance or cluster beside the live one, every setting kept, and swap names
description:
  - Level 3 of a rollback on Amazon RDS (runbooks 000 step 3.1, 001 step 3).
  - Restores a DB instance (O(db_instance_identifier)) or an Aurora / Multi-AZ DB cluster (O(db_cluster_identifier))
    from a snapshot (O(db_snapshot_identifier), or the newest one with O(latest=true)) or to a point in time
    (O(restore_time), O(use_latest_restorable_time=true)) under a new name, waits for it, and with O(swap=true)
    renames the source to C(<source>-pre-rollback-<UTC timestamp>) and the restored one to the source's name,
    so the application's endpoint name stays the same.
  - Never deletes an instance, a cluster or a snapshot. The old one keeps running under its new name unless
    O(old_instance) stops or isolates it.
  - 'Before any change: the source exists, the snapshot is available (and older than O(created_before)) or the
    point in time is restorable, the names are free (or an earlier run is found by its tags), a swap is not
    refused for read replicas, the isolation security groups allow no ingress, and O(restore_options) are all
    accepted.'
  - 'Settings: every setting of the source is carried into the restored one; a value given in the options or in
    O(restore_options) wins. The source''s tags are copied (not C(aws:*)) with the C(rollback.core/*) tags added.'
  - 'Instance settings sent with the restore call: DBInstanceClass, Port, DBSubnetGroupName, VpcSecurityGroupIds,
    DBParameterGroupName, OptionGroupName, MultiAZ, PubliclyAccessible, DeletionProtection, CopyTagsToSnapshot,
    EnableIAMDatabaseAuthentication, EnableCloudwatchLogsExports, CACertificateIdentifier, StorageType,
    AllocatedStorage, Iops, StorageThroughput, BackupRetentionPeriod, PreferredBackupWindow, AutoMinorVersionUpgrade,
    LicenseModel, EngineLifecycleSupport, NetworkType, ProcessorFeatures, DedicatedLogVolume, EnableCustomerOwnedIp,
    BackupTarget, CustomIamInstanceProfile; MaxAllocatedStorage with a point-in-time restore.'
  - 'Instance settings applied after, with one ModifyDBInstance once the restored instance is available, waited
    for until they show: PreferredMaintenanceWindow, MonitoringInterval, MonitoringRoleArn,
    EnablePerformanceInsights, PerformanceInsightsKMSKeyId, PerformanceInsightsRetentionPeriod,
    DatabaseInsightsMode; MaxAllocatedStorage with a snapshot restore.'
  - 'Cluster settings sent with the restore call: Port, DBSubnetGroupName, VpcSecurityGroupIds,
    DBClusterParameterGroupName, OptionGroupName, DeletionProtection, CopyTagsToSnapshot,
    EnableIAMDatabaseAuthentication, EnableCloudwatchLogsExports, BacktrackWindow, EngineMode, ScalingConfiguration,
    ServerlessV2ScalingConfiguration, StorageType, BackupRetentionPeriod, PreferredBackupWindow, NetworkType,
    EngineLifecycleSupport, DBClusterInstanceClass, Iops, PubliclyAccessible, MonitoringInterval,
    MonitoringRoleArn, EnablePerformanceInsights, PerformanceInsightsKMSKeyId, PerformanceInsightsRetentionPeriod
    (the last eight for Multi-AZ DB clusters only, as AWS accepts them).'
  - 'Cluster settings applied after, with one ModifyDBCluster: PreferredMaintenanceWindow, CACertificateIdentifier,
    DatabaseInsightsMode, EnableHttpEndpoint, AutoMinorVersionUpgrade. An Aurora restore creates no instance: the
    source''s writer and readers are created with CreateDBInstance, writer first, each with its class, parameter
    group, promotion tier, zone, monitoring, Performance Insights, maintenance window and tags.'
  - 'Not copied, and why: engine, version, encryption key, master user and database name come from the snapshot or
    backup itself; the Availability Zone is chosen by AWS (give it in O(restore_options) to pin it); the master
    password and a managed master secret stay the snapshot''s (a new secret would be one the application does not
    know); Kerberos domain membership, TDE credentials and additional storage volumes need values the description
    does not return (give them in O(restore_options)); IAM roles, activity streams, cross-Region backup
    replication and read replicas are separate APIs.'
  - 'A setting the installed botocore''s restore call does not accept yet is applied after instead; one neither
    call accepts is listed in RV(settings_not_sent).'
  - 'Cutover (O(swap=true)): each rename is waited through DBInstanceNotFound, C(renaming) and C(rebooting) until the
    new name is available; with O(verify_dns=true) the endpoint is then resolved until it names the restored
    instance. AWS cannot re-point read replicas: a source with read replicas is refused unless
    O(read_replicas=leave).'
  - 'Resumable: the restored resource is tagged C(rollback.core/rollback-of), C(rollback.core/rollback-stamp),
    C(rollback.core/cutover) and C(rollback.core/restored-from-snapshot) or C(rollback.core/restored-to-time); the
    old one C(rollback.core/replaced-by-rollback) before its rename. A re-run finds each step by these tags and
    continues (restored but not renamed, first rename done, both done) instead of restoring again.'
  - 'Waiting: a status AWS does not leave by itself (failed, incompatible-restore, incompatible-parameters,
    restore-error, ...) fails at once with the status; InvalidDBInstanceState and InvalidDBClusterStateFault are
    retried with backoff; each poll''s state names the status, the time waited and the timeout.'
version_added: 0.1.0
author:
  - rollback.core maintainers (@rollback-core)
extends_documentation_fragment:
  - rollback.core.aws
  - rollback.core.wait
options:
  db_instance_identifier:
    description:
      - The source (live) DB instance. One of O(db_instance_identifier) and O(db_cluster_identifier) is required.
    type: str
  db_cluster_identifier:
    description:
      - The source (live) Aurora or Multi-AZ DB cluster.
    type: str
  db_snapshot_identifier:
    description:
      - The snapshot to restore (a DB cluster snapshot with O(db_cluster_identifier)).
      - One of O(db_snapshot_identifier), O(latest), O(restore_time) and O(use_latest_restorable_time).
    type: str
  latest:
    description:
      - Restore the newest available snapshot of the source of type O(snapshot_type), taken before O(created_before).
    type: bool
    default: false
  snapshot_type:
    description:
      - Which snapshots O(latest) chooses from. V(any) is manual, automated and AWS Backup ones (clusters have no
        V(awsbackup) type).
    type: str
    choices: [manual, automated, awsbackup, any]
    default: manual
  created_before:
    description:
      - With O(latest), only snapshots holding data from before this moment (ISO 8601 with a UTC offset, for example
        the deploy's start), so a snapshot newer than the release is never taken.
      - The data's moment is SnapshotDatabaseTime, else OriginalSnapshotCreateTime, else SnapshotCreateTime.
    type: str
  restore_time:
    description:
      - Restore the source as it was at this moment (ISO 8601 with a UTC offset), through
        RestoreDBInstanceToPointInTime or RestoreDBClusterToPointInTime.
    type: str
  use_latest_restorable_time:
    description:
      - Restore the source as it is at its latest restorable time.
      - A re-run after the cutover finished reports no change; use O(restore_time) to restore again.
    type: bool
    default: false
  target_db_instance_identifier:
    description:
      - Identifier of the restored instance without O(swap). Default C(<source>-rb-<UTC timestamp>).
    type: str
  target_db_cluster_identifier:
    description:
      - Identifier of the restored cluster without O(swap). Default C(<source>-rb-<UTC timestamp>).
    type: str
  swap:
    description:
      - Rename the source to C(<source>-pre-rollback-<UTC timestamp>) and the restored one to the source's name.
      - Needs O(wait=true).
    type: bool
    default: false
  read_replicas:
    description:
      - What a swap does when the source has read replicas, which AWS keeps attached to the renamed old source.
      - V(refuse) fails before any change. V(leave) swaps; the replicas keep replicating the old one and are listed
        in RV(read_replicas_left) to be re-created from the restored one.
    type: str
    choices: [refuse, leave]
    default: refuse
  old_instance:
    description:
      - What happens to the old source after a swap. V(keep) leaves it running and writable at its new endpoint;
        V(stop) stops it (AWS starts it again after 7 days); V(isolate) moves it to
        O(isolation_security_group_ids).
    type: str
    choices: [keep, stop, isolate]
    default: keep
  isolation_security_group_ids:
    description:
      - With O(old_instance=isolate), the security groups (allowing no ingress, checked first) the old one moves to.
    type: list
    elements: str
  verify_dns:
    description:
      - After a swap, resolve the endpoint until it gives the restored one's addresses (or, when those are unknown
        on a re-run, no longer the old one's), for at most O(wait_timeout) seconds.
      - The host running the module must resolve the endpoint as the application does.
    type: bool
    default: false
  db_instance_class:
    description: Instance class of the restored instance (of every member of a restored Aurora cluster).
      Default, the source's.
    type: str
  db_subnet_group_name:
    description: Subnet group of the restored instance or cluster. Default, the source's.
    type: str
  vpc_security_group_ids:
    description: Security groups of the restored instance or cluster. Default, the source's.
    type: list
    elements: str
  db_parameter_group_name:
    description: Parameter group of the restored instance (DB cluster parameter group of a cluster). Default, the
      source's.
    type: str
  multi_az:
    description: Multi-AZ for the restored instance. Default, the source's.
    type: bool
  restore_options:
    description:
      - Further parameters by their API names, of the restore call or, when it does not take them, of the
        ModifyDBInstance / ModifyDBCluster applied after. They override the source's values. A name neither
        accepts, or one the module sets (identifiers, the snapshot or time, Tags), fails the task before any change.
    type: dict
  wait_timeout:
    description:
      - Seconds to wait for each step (the restore, the settings applied after, each rename, the DNS check) before
        failing with the last state seen. RDS restores take 10 to 60 minutes.
    type: int
    default: 3600
attributes:
  check_mode:
    description: Describes the source, the snapshot and any earlier run, and returns the plan (RV(restore_arguments),
      RV(settings), RV(steps)).
    support: full
  diff_mode:
    description: Instances are not diffed; RV(steps) names every change.
    support: none
"""

EXAMPLES = r"""
- name: Restore the newest manual snapshot taken before the deploy and take over the endpoint name
  rollback.core.rds_snapshot_restore:
    region: eu-west-1
    db_instance_identifier: app-prod
    latest: true
    created_before: "2025-11-12T10:00:00Z"
    swap: true
    old_instance: stop
    verify_dns: true
  register: rds_restore

- name: The database as it was one second before the deploy
  rollback.core.rds_snapshot_restore:
    db_instance_identifier: app-prod
    restore_time: "2025-11-12T09:59:59Z"
    swap: true

- name: An Aurora cluster from its newest automated snapshot, writer and readers with their classes
  rollback.core.rds_snapshot_restore:
    db_cluster_identifier: app-aurora
    latest: true
    snapshot_type: automated
    swap: true

- name: Restore a named snapshot beside production, for inspection
  rollback.core.rds_snapshot_restore:
    db_instance_identifier: app-prod
    db_snapshot_identifier: app-prod-before-release-42
    target_db_instance_identifier: app-prod-inspect
    restore_options:
      PubliclyAccessible: false
"""

RETURN = r"""
snapshot:
  description: The snapshot restored (id, create_time, type, source); null for a point-in-time restore.
  returned: always
  type: dict
restore_time:
  description: The point in time restored (time, latest); null for a snapshot restore.
  returned: always
  type: dict
db_instance:
  description: The instance now holding the restored data (id, address, port, status, instance_class).
  returned: with O(db_instance_identifier)
  type: dict
db_cluster:
  description: The cluster now holding the restored data (id, endpoint, reader_endpoint, port, status, members).
  returned: with O(db_cluster_identifier)
  type: dict
members:
  description: The instances created in a restored Aurora cluster.
  returned: with O(db_cluster_identifier)
  type: list
  elements: str
previous_db_instance_identifier:
  description: The new name of the old source instance with O(swap=true); null otherwise.
  returned: with O(db_instance_identifier)
  type: str
previous_db_cluster_identifier:
  description: The new name of the old source cluster with O(swap=true); null otherwise.
  returned: with O(db_cluster_identifier)
  type: str
data_loss_window:
  description: From the data's moment (snapshot or point in time) to now (start, end, seconds); writes in it are not
    in the restore. Null when unknown (the latest restorable time on a re-run).
  returned: always
  type: dict
settings:
  description: Each setting sent (setting, value, applied V(at restore) or V(after restore), origin V(source) or
    V(given)).
  returned: when the source could be read
  type: list
  elements: dict
settings_not_sent:
  description: Settings of the source neither the restore call nor the modify call of the installed botocore takes.
  returned: when there are some
  type: list
  elements: str
restore_arguments:
  description: The arguments sent to (or, in check mode, planned for) the restore call.
  returned: when this run restored or planned a restore
  type: dict
old_instance:
  description: After a swap, the old source (id, action, status, writable, note); null without a swap.
  returned: always
  type: dict
dns:
  description: With O(verify_dns=true), the endpoint check (verified, address, addresses, basis).
  returned: always
  type: dict
read_replicas_left:
  description: Read replicas still attached to the old source (O(read_replicas=leave)).
  returned: always
  type: list
  elements: str
resumed:
  description: Whether this run continued an earlier one found by its tags.
  returned: always
  type: bool
steps:
  description: What this run changed (or would change, in check mode), in order.
  returned: always
  type: list
  elements: str
duration:
  description: Seconds the module took.
  returned: always
  type: float
"""

from ansible_collections.rollback.core.plugins.module_utils.aws import AWS_CONNECTION_SPEC, BOTO3_IMPORT_ERROR
from ansible_collections.rollback.core.plugins.module_utils.base import RollbackModule
from ansible_collections.rollback.core.plugins.module_utils.rds import restore
from ansible_collections.rollback.core.plugins.module_utils.rds_snapshots import SNAPSHOT_TYPES
from ansible_collections.rollback.core.plugins.module_utils.wait import WAIT_SPEC


def main():
    module = RollbackModule(
        dict(
            db_instance_identifier=dict(type="str"),
            db_cluster_identifier=dict(type="str"),
            db_snapshot_identifier=dict(type="str"),
            latest=dict(type="bool", default=False),
            snapshot_type=dict(type="str", choices=list(SNAPSHOT_TYPES), default="manual"),
            created_before=dict(type="str"),
            restore_time=dict(type="str"),
            use_latest_restorable_time=dict(type="bool", default=False),
            target_db_instance_identifier=dict(type="str"),
            target_db_cluster_identifier=dict(type="str"),
            swap=dict(type="bool", default=False),
            read_replicas=dict(type="str", choices=["refuse", "leave"], default="refuse"),
            old_instance=dict(type="str", choices=["keep", "stop", "isolate"], default="keep"),
            isolation_security_group_ids=dict(type="list", elements="str"),
            verify_dns=dict(type="bool", default=False),
            db_instance_class=dict(type="str"),
            db_subnet_group_name=dict(type="str"),
            vpc_security_group_ids=dict(type="list", elements="str"),
            db_parameter_group_name=dict(type="str"),
            multi_az=dict(type="bool"),
            restore_options=dict(type="dict"),
            # RDS restores take 10-60 minutes: the shared wait spec's default would fail a healthy restore.
            wait_timeout=dict(WAIT_SPEC["wait_timeout"], default=3600),
        ),
        shared_specs=(AWS_CONNECTION_SPEC, WAIT_SPEC),
        mutually_exclusive=[("db_instance_identifier", "db_cluster_identifier"),
                            ("swap", "target_db_instance_identifier"), ("swap", "target_db_cluster_identifier"),
                            ("db_instance_identifier", "target_db_cluster_identifier"),
                            ("db_cluster_identifier", "target_db_instance_identifier")],
        required_one_of=[("db_instance_identifier", "db_cluster_identifier")],
        required_if=[("old_instance", "isolate", ["isolation_security_group_ids"])],
        supports_check_mode=True,
    )
    module.require_library("boto3", BOTO3_IMPORT_ERROR)
    module.run(restore)


if __name__ == "__main__":
    main()
