"""rds_snapshot_restore through Ansible against a moto server whose restores behave as AWS documents them
(tests/support/rds_moto.py: moto itself copies every setting on restore; AWS does not).

The same server, with the module run in-process, covers the rest of the behaviour faster in
tests/unit/plugins/module_utils/test_rds_against_moto.py. moto makes every status ``available`` at once and has
no Performance Insights: the waits, the renames' real sequence and those settings are replayed with botocore's
Stubber in tests/unit/plugins/module_utils/test_rds.py.
"""

import datetime
import time

import pytest
from moto.rds.exceptions import RDSClientError
from moto.rds.models import RDSBackend

from support.rds_moto import SHOWN, describe, instances, module_args, moto_rds, own_tags, snapshot


@pytest.fixture(scope="module")
def aws():
    with moto_rds() as moto:
        yield moto


@pytest.fixture
def rds(aws):
    return aws.rds


@pytest.fixture
def endpoint(aws):
    return aws.endpoint


@pytest.fixture
def source(aws):
    with aws.instance() as name:
        yield name


def test_every_setting_carried_through_a_swap_from_the_snapshot_before_the_deploy_and_a_rerun_changes_nothing(
        ansible_module, rds, endpoint, source):
    snapshot(rds, source, "old")
    predeploy = snapshot(rds, source, "predeploy")
    time.sleep(1.1)  # the deploy starts strictly after the pre-deploy snapshot (SnapshotCreateTime resolution)
    deployed = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    time.sleep(1.1)
    snapshot(rds, source, "taken-during-the-incident")
    options = module_args(endpoint, db_instance_identifier=source, latest=True, swap=True, created_before=deployed)
    run = ansible_module("rds_snapshot_restore", options)
    assert not run.failed, run.stdout[-3000:]
    result = run.result
    assert result["snapshot"]["id"] == predeploy and result["snapshot"]["type"] == "manual"
    assert result["db_instance"]["id"] == source and result["db_instance"]["status"] == "available"
    previous = result["previous_db_instance_identifier"]
    assert previous.startswith(source + "-pre-rollback-") and instances(rds, source) == sorted([source, previous])
    restored, original = describe(rds, source), describe(rds, previous)
    assert own_tags(restored) == own_tags(original) == {"team": "payments", "backup-plan": "daily-35d"}
    for name, read in SHOWN.items():
        assert read(restored) == read(original), name
    applied = dict((row["setting"], row["applied"]) for row in result["settings"])
    assert applied["DeletionProtection"] == applied["BackupRetentionPeriod"] == "at restore"
    assert applied["MaxAllocatedStorage"] == applied["PreferredMaintenanceWindow"] == "after restore"
    assert result["old_instance"]["id"] == previous and result["old_instance"]["writable"] is True
    assert "accepts writes" in result["old_instance"]["note"]
    assert result["data_loss_window"]["seconds"] >= 2

    rerun = ansible_module("rds_snapshot_restore", options)
    assert not rerun.failed and rerun.result["changed"] is False, rerun.stdout[-3000:]
    assert rerun.result["snapshot"]["id"] == predeploy and instances(rds, source) == sorted([source, previous])


def test_a_failure_between_the_renames_is_finished_by_the_rerun(ansible_module, rds, endpoint, source, monkeypatch):
    """The second rename fails once (injected into the in-process moto): the re-run renames, nothing restored twice."""
    snapshot(rds, source, "s1")
    original, failed = RDSBackend.modify_db_instance, []

    def flaky(self, db_instance_identifier, db_kwargs):
        if db_kwargs.get("new_db_instance_identifier") == source and not failed:
            failed.append(db_instance_identifier)
            raise RDSClientError("InvalidParameterCombination", "injected: the rename request failed")
        return original(self, db_instance_identifier, db_kwargs)

    monkeypatch.setattr(RDSBackend, "modify_db_instance", flaky)
    options = module_args(endpoint, db_instance_identifier=source, latest=True, swap=True)
    first = ansible_module("rds_snapshot_restore", options)
    assert first.failed and "injected" in first.result["msg"]
    assert source not in instances(rds, source), "the first rename was done, the source's name is free"
    rerun = ansible_module("rds_snapshot_restore", options)
    assert not rerun.failed, rerun.stdout[-3000:]
    assert rerun.result["resumed"] is True
    assert rerun.result["steps"] == ["renamed instance %s to %s" % (failed[0], source)]
    assert instances(rds, source) == sorted([source, rerun.result["previous_db_instance_identifier"]])


def test_check_mode_reports_the_plan_only(ansible_module, rds, endpoint, source):
    name = snapshot(rds, source, "s1")
    run = ansible_module("rds_snapshot_restore", module_args(endpoint, db_instance_identifier=source, latest=True,
                                                             swap=True), check=True)
    assert not run.failed and run.result["changed"] is True, run.stdout[-3000:]
    assert run.result["restore_arguments"]["DBSnapshotIdentifier"] == name
    assert run.result["restore_arguments"]["DeletionProtection"] is True
    assert run.result["steps"][0].startswith("would restore instance %s-rb-" % source)
    assert instances(rds, source) == [source]


@pytest.fixture
def aurora(aws):
    with aws.aurora() as name:
        yield name


def test_an_aurora_cluster_is_restored_with_its_writer_and_reader_and_swapped(ansible_module, rds, endpoint, aurora):
    options = module_args(endpoint, db_cluster_identifier=aurora, latest=True, swap=True)
    run = ansible_module("rds_snapshot_restore", options)
    assert not run.failed, run.stdout[-3000:]
    result = run.result
    assert result["snapshot"]["id"] == aurora + "-predeploy"
    assert result["restore_arguments"]["Engine"] == "aurora-postgresql"
    assert result["restore_arguments"]["EngineVersion"] == "15.4", "the snapshot's version, never the Region default"
    cluster = rds.describe_db_clusters(DBClusterIdentifier=aurora)["DBClusters"][0]
    assert cluster["DeletionProtection"] is True and cluster["IAMDatabaseAuthenticationEnabled"] is True
    assert own_tags(cluster) == dict(team="payments")
    members = dict((m["DBInstanceIdentifier"], m["IsClusterWriter"]) for m in cluster["DBClusterMembers"])
    writer = next(name for name, is_writer in members.items() if is_writer)
    reader = next(name for name in members if name != writer)
    assert writer.startswith(aurora + "-w-rb-") and describe(rds, writer)["DBInstanceClass"] == "db.r6g.large"
    assert reader.startswith(aurora + "-r-rb-") and describe(rds, reader)["DBInstanceClass"] == "db.r6g.xlarge"
    old = rds.describe_db_clusters(DBClusterIdentifier=result["previous_db_cluster_identifier"])["DBClusters"][0]
    assert sorted(m["DBInstanceIdentifier"] for m in old["DBClusterMembers"]) == [aurora + "-r", aurora + "-w"]
    rerun = ansible_module("rds_snapshot_restore", options)
    assert not rerun.failed and rerun.result["changed"] is False, rerun.stdout[-3000:]
