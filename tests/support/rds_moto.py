"""A moto server whose RDS restores behave as AWS documents them, not as moto makes them.

moto's restore_db_instance_from_db_snapshot and restore_db_instance_to_point_in_time copy every setting of the
original instance into the new one and apply only the truthy overrides (moto/rds/models.py, ``if value:``).
AWS does neither. Its service model (botocore/data/rds/2014-10-31/service-2.json, the members of
RestoreDBInstanceFromDBSnapshotMessage and RestoreDBInstanceToPointInTimeMessage) documents the defaults of a
restored instance:

- from the snapshot or the source's backup: engine and version, storage (allocated, type, IOPS, throughput),
  master user, database name, encryption, "DBInstanceClass ... Default: The same DBInstanceClass as the
  original DB instance", "Port ... Default: The same port as the original DB instance", the option group,
  "BackupRetentionPeriod ... Default: Uses existing setting";
- AWS's defaults for the rest: "DeletionProtection ... By default, deletion protection isn't enabled",
  "EnableIAMDatabaseAuthentication ... By default, mapping is disabled", "VpcSecurityGroupIds ... Default:
  The default EC2 VPC security group", "DBParameterGroupName ... If you don't specify a value ... RDS uses the
  default DBParameterGroup", no log exports, no storage autoscaling, no enhanced monitoring, a maintenance
  window of AWS's choosing, no Multi-AZ;
- tags: "RDS checks whether you specify new tags. If yes, the new tags are added to the restored DB instance.
  If there are no new tags, RDS looks for the tags from the source DB instance for the DB snapshot"
  (CopyTagsToSnapshot), and a point-in-time restore gets only the tags it is given;
- an override of ``false`` or ``0`` is applied like any other value;
- a renamed cluster keeps its instances (DBClusterMembers belong to the cluster, not to its name: the RDS
  User Guide's "Renaming an Aurora DB cluster" renames only the cluster and its endpoints), where moto
  attaches instances by the cluster's name string; likewise "all read replicas associated with a DB instance
  remain associated with that instance after it is renamed" ("Renaming a DB instance"), where moto keeps the
  old name as their source.

Started in the test process on a free loopback port (moto's ThreadedMotoServer) with only those two functions
replaced, so the lab's shared moto is untouched.
"""

import contextlib
import copy
from unittest import mock

from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.rds.exceptions import DBInstanceAlreadyExists
from moto.rds.models import RDSBackend

from support.http_servers import free_port

# What a snapshot (or a point-in-time backup) carries, by moto's DBInstance attribute names.
CARRIED = ("engine", "engine_version", "allocated_storage", "storage_type", "iops", "storage_throughput",
           "master_username", "master_user_password", "db_name", "port", "db_instance_class", "license_model",
           "storage_encrypted", "kms_key_id", "character_set_name", "backup_retention_period",
           "preferred_backup_window", "db_cluster_identifier")


def _carried(original):
    # As moto's own restore reads it: the instance's __dict__, "_name" attributes being write-only properties.
    attributes = dict((key.lstrip("_"), value) for key, value in original.__dict__.items())
    props = dict((key, copy.copy(attributes[key])) for key in CARRIED if key in attributes)
    if getattr(original, "option_group_supplied", False):
        props["option_group_name"] = original.option_group_name
    return props


def _apply(props, overrides, skip=()):
    for key, value in overrides.items():
        if value is not None and key not in skip:
            props[key] = value
    return props


def restore_from_snapshot(self, from_snapshot_id, overrides):
    snapshot = self.describe_db_snapshots(db_instance_identifier=None, db_snapshot_identifier=from_snapshot_id)[0]
    if overrides["db_instance_identifier"] in self.databases:
        raise DBInstanceAlreadyExists()
    props = _carried(snapshot.database)
    props["allocated_storage"] = snapshot.allocated_storage
    props["tags"] = copy.deepcopy(snapshot.tags)
    return self.create_db_instance(_apply(props, overrides, skip=("db_snapshot_identifier",)))


def restore_to_point_in_time(self, source_db_identifier, target_db_identifier, overrides):
    source = self.describe_db_instances(db_instance_identifier=source_db_identifier)[0]
    skip = ("source_db_instance_identifier", "target_db_instance_identifier", "restore_time",
            "use_latest_restorable_time")
    props = _apply(_carried(source), overrides, skip=skip)
    props["db_instance_identifier"] = target_db_identifier
    return self.create_db_instance(props)


def modify_cluster_keeping_members(original):
    def modify(self, kwargs):
        old, new = kwargs["db_cluster_identifier"], kwargs.get("new_db_cluster_identifier")
        members = [db for db in self.databases.values() if getattr(db, "db_cluster_identifier", None) == old]
        cluster = original(self, kwargs)
        for member in members if new else []:
            member.db_cluster_identifier = new
        return cluster
    return modify


def modify_instance_keeping_replicas(original):
    def modify(self, db_instance_identifier, db_kwargs):
        new = db_kwargs.get("new_db_instance_identifier")
        replicas = [db for db in self.databases.values()
                    if getattr(db, "source_db_instance_identifier", None) == db_instance_identifier]
        instance = original(self, db_instance_identifier, db_kwargs)
        for replica in replicas if new else []:
            replica.source_db_instance_identifier = new
        return instance
    return modify


@contextlib.contextmanager
def moto_like_aws():
    """Yield the endpoint URL of a moto server with AWS's restore defaults."""
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    with mock.patch.object(RDSBackend, "restore_db_instance_from_db_snapshot", restore_from_snapshot), \
            mock.patch.object(RDSBackend, "restore_db_instance_to_point_in_time", restore_to_point_in_time), \
            mock.patch.object(RDSBackend, "modify_db_cluster", modify_cluster_keeping_members(
                RDSBackend.modify_db_cluster)), \
            mock.patch.object(RDSBackend, "modify_db_instance", modify_instance_keeping_replicas(
                RDSBackend.modify_db_instance)):
        server.start()
        try:
            yield "http://127.0.0.1:%d" % port
        finally:
            server.stop()


# Helpers of the RDS tests that run against this server.
KEY = dict(region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing")


def module_args(endpoint, **extra):
    base = dict(region="us-east-1", endpoint_url=endpoint, access_key="testing", secret_key="testing-secret-1",
                wait_sleep=0.05)
    base.update(extra)
    return base


def instances(rds, prefix):
    return sorted(i["DBInstanceIdentifier"] for i in rds.describe_db_instances()["DBInstances"]
                  if i["DBInstanceIdentifier"].startswith(prefix))


def describe(rds, name):
    return rds.describe_db_instances(DBInstanceIdentifier=name)["DBInstances"][0]


def own_tags(resource):
    return dict((t["Key"], t["Value"]) for t in resource["TagList"] if not t["Key"].startswith("rollback.core/"))


def snapshot(rds, name, suffix):
    rds.create_db_snapshot(DBInstanceIdentifier=name, DBSnapshotIdentifier="%s-%s" % (name, suffix))
    return "%s-%s" % (name, suffix)


def production_like_instance(rds, ec2, name):
    """Every setting of the module's table away from AWS's restore defaults."""
    group = ec2.create_security_group(GroupName=name, Description="app")["GroupId"]
    rds.create_db_parameter_group(DBParameterGroupName=name + "-pg", DBParameterGroupFamily="postgres15",
                                  Description="app")
    rds.create_db_instance(
        DBInstanceIdentifier=name, DBInstanceClass="db.m6g.large", Engine="postgres", EngineVersion="15.4",
        MasterUsername="app", MasterUserPassword="app-secret-1", AllocatedStorage=100, StorageType="io1", Iops=3000,
        MultiAZ=True, BackupRetentionPeriod=14, PreferredBackupWindow="02:00-02:30",
        PreferredMaintenanceWindow="sun:04:00-sun:04:30", DeletionProtection=True, CopyTagsToSnapshot=True,
        EnableIAMDatabaseAuthentication=True, EnableCloudwatchLogsExports=["postgresql", "upgrade"],
        MaxAllocatedStorage=500, MonitoringInterval=30, MonitoringRoleArn="arn:aws:iam::123456789012:role/rds-mon",
        PubliclyAccessible=True, CACertificateIdentifier="rds-ca-rsa4096-g1", AutoMinorVersionUpgrade=False,
        VpcSecurityGroupIds=[group], DBParameterGroupName=name + "-pg", Port=6432,
        Tags=[dict(Key="team", Value="payments"), dict(Key="backup-plan", Value="daily-35d")])
    return name


def aurora_cluster(rds, name):
    """An Aurora PostgreSQL cluster with a writer and a reader of different classes, and a snapshot."""
    rds.create_db_cluster(DBClusterIdentifier=name, Engine="aurora-postgresql", EngineVersion="15.4",
                          MasterUsername="app", MasterUserPassword="app-secret-1", DeletionProtection=True,
                          BackupRetentionPeriod=7, EnableIAMDatabaseAuthentication=True,
                          Tags=[dict(Key="team", Value="payments")])
    for member, size, tier in (("-w", "db.r6g.large", 0), ("-r", "db.r6g.xlarge", 1)):
        rds.create_db_instance(DBInstanceIdentifier=name + member, DBClusterIdentifier=name,
                               Engine="aurora-postgresql", DBInstanceClass=size, PromotionTier=tier)
    rds.create_db_cluster_snapshot(DBClusterIdentifier=name, DBClusterSnapshotIdentifier=name + "-predeploy")
    return name


def delete_everything(rds, prefix):
    # Read replicas first: moto looks their source up by name when one is deleted.
    for instance in sorted(rds.describe_db_instances()["DBInstances"],
                           key=lambda i: not i.get("ReadReplicaSourceDBInstanceIdentifier")):
        if instance["DBInstanceIdentifier"].startswith(prefix):
            rds.modify_db_instance(DBInstanceIdentifier=instance["DBInstanceIdentifier"], DeletionProtection=False,
                                   ApplyImmediately=True)
            rds.delete_db_instance(DBInstanceIdentifier=instance["DBInstanceIdentifier"], SkipFinalSnapshot=True)
    for cluster in rds.describe_db_clusters()["DBClusters"]:
        if cluster["DBClusterIdentifier"].startswith(prefix):
            rds.modify_db_cluster(DBClusterIdentifier=cluster["DBClusterIdentifier"], DeletionProtection=False,
                                  ApplyImmediately=True)
            rds.delete_db_cluster(DBClusterIdentifier=cluster["DBClusterIdentifier"], SkipFinalSnapshot=True)


# What DescribeDBInstances shows of rds_settings.INSTANCE_SETTINGS in moto (no Performance Insights there).
SHOWN = {
    "DBInstanceClass": lambda i: i["DBInstanceClass"], "Port": lambda i: i["Endpoint"]["Port"],
    "VpcSecurityGroupIds": lambda i: [g["VpcSecurityGroupId"] for g in i["VpcSecurityGroups"]],
    "DBParameterGroupName": lambda i: i["DBParameterGroups"][0]["DBParameterGroupName"],
    "MultiAZ": lambda i: i["MultiAZ"], "PubliclyAccessible": lambda i: i.get("PubliclyAccessible"),
    "DeletionProtection": lambda i: i["DeletionProtection"], "CopyTagsToSnapshot": lambda i: i["CopyTagsToSnapshot"],
    "EnableIAMDatabaseAuthentication": lambda i: i["IAMDatabaseAuthenticationEnabled"],
    "EnableCloudwatchLogsExports": lambda i: sorted(i["EnabledCloudwatchLogsExports"]),
    "CACertificateIdentifier": lambda i: i["CACertificateIdentifier"], "StorageType": lambda i: i["StorageType"],
    "AllocatedStorage": lambda i: i["AllocatedStorage"], "Iops": lambda i: i.get("Iops"),
    "MaxAllocatedStorage": lambda i: i.get("MaxAllocatedStorage"),
    "BackupRetentionPeriod": lambda i: i["BackupRetentionPeriod"],
    "PreferredBackupWindow": lambda i: i["PreferredBackupWindow"],
    "PreferredMaintenanceWindow": lambda i: i["PreferredMaintenanceWindow"],
    "AutoMinorVersionUpgrade": lambda i: i["AutoMinorVersionUpgrade"],
    "MonitoringInterval": lambda i: i.get("MonitoringInterval"),
    "MonitoringRoleArn": lambda i: i.get("MonitoringRoleArn"),
    "Tags": own_tags,
}


class MotoRds:
    """Clients of a moto_like_aws server and the test resources made in it."""

    def __init__(self, endpoint):
        import boto3

        self.endpoint = endpoint
        self.rds = boto3.client("rds", endpoint_url=endpoint, **KEY)
        self.ec2 = boto3.client("ec2", endpoint_url=endpoint, **KEY)

    @contextlib.contextmanager
    def instance(self, snapshot_suffix=None):
        """A production_like_instance (with a snapshot when ``snapshot_suffix``), deleted with all it led to."""
        import uuid

        name = production_like_instance(self.rds, self.ec2, "app-%s" % uuid.uuid4().hex[:8])
        if snapshot_suffix:
            snapshot(self.rds, name, snapshot_suffix)
        try:
            yield name
        finally:
            delete_everything(self.rds, name)

    @contextlib.contextmanager
    def aurora(self):
        import uuid

        name = aurora_cluster(self.rds, "aur-%s" % uuid.uuid4().hex[:8])
        try:
            yield name
        finally:
            delete_everything(self.rds, name)


@contextlib.contextmanager
def moto_rds():
    with moto_like_aws() as endpoint:
        yield MotoRds(endpoint)
