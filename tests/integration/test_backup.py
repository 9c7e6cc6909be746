"""rollback.core.backup on the lab: restore points taken in the restore modules' formats, listed, verified, expired.

Real servers only: etcd, the Kubernetes simulator, PostgreSQL 15 (pg_dump / pg_restore), moto's RDS.
"""

import json
import os
import stat
import tempfile

import boto3
import pytest

from playbook_runs import labctl, restore_good, restore_points, run_playbook

PG_BIN = "/usr/lib/postgresql/15/bin"


def rds_client(lab):
    return boto3.client("rds", endpoint_url=lab["LAB_AWS_ENDPOINT"], region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def pg_args(lab):
    return dict(kind="postgres", db="demo", login_host="127.0.0.1", login_port=int(lab["LAB_PG_PORT"]),
                login_user="postgres", login_password=lab["LAB_PG_PASSWORD"], pg_bin_dir=PG_BIN)


def etcd_args(lab):
    return dict(kind="etcd", prefix=lab["LAB_ETCD_PREFIX"], endpoints=[lab["LAB_ETCD_ENDPOINT"]])


@pytest.fixture
def where(tmp_path):
    """A manifest directory and a backup directory of their own (not the lab's, which the rollbacks read)."""
    return dict(manifests=str(tmp_path / "manifests"), backups=str(tmp_path / "backups"))


def take(ansible_module, where, restore_point, args, **options):
    arguments = dict(owner="svc", restore_point=restore_point, manifest_dir=where["manifests"], **args)
    if args["kind"] == "postgres":
        arguments.setdefault("dump_dir", os.path.join(where["backups"], "db"))
    elif args["kind"] in ("etcd", "kubernetes"):
        arguments.setdefault("backup_dir", os.path.join(where["backups"], args["kind"]))
    run = ansible_module("backup", arguments, **options)
    return run


def verify(ansible_module, where, **args):
    return ansible_module("backup", dict(action="verify", manifest_dir=where["manifests"], pg_bin_dir=PG_BIN,
                                         endpoint_url="http://127.0.0.1:55000", region="us-east-1",
                                         access_key="testing", secret_key="testing", **args))


def ensure_rds_instance(lab):
    client = rds_client(lab)
    try:
        client.describe_db_instances(DBInstanceIdentifier="demo-db")
    except client.exceptions.DBInstanceNotFoundFault:
        client.create_db_instance(DBInstanceIdentifier="demo-db", DBInstanceClass="db.t3.micro", Engine="postgres",
                                  AllocatedStorage=20, MasterUsername="demo", MasterUserPassword="lab-rds-secret")


@pytest.fixture(scope="module")
def taken(lab, lab_env):
    """The lab at 1.0.0 backed up by the playbook (no lab backups), then 1.0.1 deployed without backups."""
    ensure_rds_instance(lab)
    labctl(lab_env, "deploy", "1.0.0", "--no-backup")
    run = run_playbook(lab_env, "backup.yml", "-e", "services=demo-server", "-e", "deploy_id=release-1.0.1")
    assert run.rc == 0, run.output[-3000:]
    newest = restore_points(lab, "release-1.0.1")
    from playbook_runs import DEPLOYED_BAD
    DEPLOYED_BAD.append(True)
    labctl(lab_env, "deploy", "1.0.1", "--no-backup")
    yield newest
    restore_good(lab_env)


def test_the_backup_playbook_takes_the_restore_points_of_the_service_and_its_database(lab, taken):
    # A level 3 rollback restoring exactly the restore points just taken: with a plain backup of every service in
    # the level 3 drill (test_playbook_rollback.py), with an encrypted one of this service in test_backup_encrypted.py.
    assert sorted(taken) == ["demo-postgres", "demo-server"], "the service and the database it uses"
    server = dict((i["kind"], i) for i in taken["demo-server"]["items"])
    database = dict((i["kind"], i) for i in taken["demo-postgres"]["items"])
    assert sorted(server) == ["env_file", "etcd", "marker"] and sorted(database) == ["postgres"]
    # The marker is issue 14's deploy marker file (deploy_marker.py), read as auto_rollback reads it.
    assert server["marker"]["marker_file"] == os.path.join(lab["LAB_DIR"], "deploys", "demo-server.json")


def test_the_marker_kind_writes_the_deploy_marker_auto_rollback_reads(lab, taken):
    from ansible_collections.rollback.core.plugins.module_utils.deploy_marker import read_marker
    marker = read_marker(os.path.join(lab["LAB_DIR"], "deploys"), "demo-server")
    # `labctl deploy 1.0.1` carried the backup's deploy on: its id, and the version that ran before it.
    assert marker.deploy_id == "release-1.0.1" and marker.status == "done"
    assert marker.document["version"] == "1.0.1" and marker.document["previous_version"] == "1.0.0"


def test_preflight_warns_when_the_restore_point_is_older_than_the_last_deploy(ansible_module, where, tmp_path):
    env = tmp_path / "app.env"
    env.write_text("A=1\n")
    markers = str(tmp_path / "deploys")
    old = take(ansible_module, where, "svc-old", dict(kind="env_file", path=str(env)))
    assert not old.failed, old.stdout
    taken_for = take(ansible_module, where, "svc-old", dict(kind="marker", marker_dir=markers, version="2"))
    assert not taken_for.failed, taken_for.stdout
    backup = old.result["item"]["path"]
    args = dict(action="locate", owner="svc", manifest_dir=where["manifests"], marker_dir=markers, backups=[backup])
    # A later deploy without a restore point of its own (another deploy id, started after the backup).
    later = take(ansible_module, where, "svc-new", dict(kind="marker", marker_dir=markers, version="3"))
    assert not later.failed and later.result["item"]["marker"]["previous_version"] == "2"
    located = ansible_module("backup", args)
    assert not located.failed and not located.result["changed"]
    row = located.result["restore_points"][0]
    assert row["stale"] is True and row["restore_point"] == "svc-old"
    [warning] = located.result["restore_point_warnings"]
    assert warning.startswith("svc will restore svc-old (restore point, taken ") and "svc-new of svc" in warning
    assert "[WARNING]: svc will restore svc-old" in located.stderr, "shown to the operator"


def test_list_shows_the_restore_point_with_its_deploy(lab_env, taken):
    run = run_playbook(lab_env, "backup.yml", "-e", "action=list", "-e", "services=demo-server")
    assert run.rc == 0, run.output[-3000:]
    for owner, manifest in taken.items():
        line = next(line for line in run.output.splitlines() if manifest["restore_point"] in line)
        assert owner in line and "release-1.0.1" in line


def test_verify_catches_a_truncated_dump(lab, ansible_module, where):
    run = take(ansible_module, where, "rp-dump", pg_args(lab))
    assert not run.failed, run.stdout
    dump, size = run.result["item"]["path"], run.result["item"]["size"]
    assert verify(ansible_module, where).result["problems"] == []
    with open(dump, "r+b") as handle:
        handle.truncate(size // 2)
    run = verify(ansible_module, where)
    assert run.failed
    assert run.result["msg"] == "restore point rp-dump: postgres backup %s is truncated: %d of %d bytes" % (
        dump, size // 2, size)


def test_verify_catches_a_corrupt_json_backup(lab, ansible_module, where):
    run = take(ansible_module, where, "rp-etcd", etcd_args(lab))
    assert not run.failed, run.stdout
    backup = run.result["item"]["path"]
    with open(backup, "a") as handle:
        handle.write("{not json")
    run = verify(ansible_module, where)
    assert run.failed
    assert run.result["msg"].startswith("restore point rp-etcd: backup %s is not valid JSON" % backup)
    assert len(run.result["problems"]) == 1


def test_verify_catches_a_missing_snapshot(lab, ansible_module, where):
    ensure_rds_instance(lab)
    run = take(ansible_module, where, "rp-rds", dict(kind="rds", db_instance_identifier="demo-db",
                                                     endpoint_url=lab["LAB_AWS_ENDPOINT"], region="us-east-1",
                                                     access_key="testing", secret_key="testing"))
    assert not run.failed, run.stdout
    snapshot = run.result["item"]["snapshot"]
    tags = rds_client(lab).list_tags_for_resource(
        ResourceName=rds_client(lab).describe_db_snapshots(DBSnapshotIdentifier=snapshot)["DBSnapshots"][0][
            "DBSnapshotArn"])["TagList"]
    assert {"Key": "rollback:restore-point", "Value": "rp-rds"} in tags
    rds_client(lab).delete_db_snapshot(DBSnapshotIdentifier=snapshot)
    run = verify(ansible_module, where)
    assert run.failed
    assert run.result["msg"] == "restore point rp-rds: RDS snapshot %s does not exist (deleted?)" % snapshot


def test_files_are_0600_in_0700_directories_and_a_directory_dump_verifies(lab, ansible_module, where):
    directory_dump = dict(pg_args(lab), dump_format="directory", jobs=2)
    for restore_point, args in (("rp-1", directory_dump), ("rp-1", etcd_args(lab))):
        assert not take(ansible_module, where, restore_point, args).failed
    with open(os.path.join(where["manifests"], "rp-1.json")) as handle:
        manifest = json.load(handle)
    dump = next(i["path"] for i in manifest["items"] if i["kind"] == "postgres")
    assert os.path.exists(os.path.join(dump, "toc.dat")), "pg_dump -Fd, as postgres_restore reads it"
    paths = [i["path"] for i in manifest["items"] if i["kind"] == "etcd"] + [
        os.path.join(dump, name) for name in os.listdir(dump)] + [os.path.join(where["manifests"], "rp-1.json")]
    for path in paths:
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600, path
        assert stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode) == 0o700, path
    assert stat.S_IMODE(os.stat(os.path.dirname(dump)).st_mode) == 0o700
    assert verify(ansible_module, where).result["problems"] == []
    assert not [n for d in (os.path.dirname(p) for p in paths) for n in os.listdir(d) if n.startswith(".")], \
        "no partial file is left"


def test_check_mode_and_bad_input_write_nothing(lab, ansible_module, where):
    run = take(ansible_module, where, "rp-check", etcd_args(lab), check=True, diff=True)
    assert run.result["changed"] and not run.failed
    assert not os.path.exists(where["manifests"]) and not os.path.exists(where["backups"])
    run = take(ansible_module, where, "rp-bad", dict(kind="postgres", login_port=int(lab["LAB_PG_PORT"])))
    assert run.failed and run.result["msg"] == "kind postgres needs db"
    run = take(ansible_module, where, "rp-bad", dict(etcd_args(lab), backup_pattern="demo-*-*.json"))
    assert run.failed and "must hold exactly one '*'" in run.result["msg"]
    # A KMS key without aws:kms is refused before the backup is taken, not after (nothing written locally).
    before = sorted(os.walk(where["backups"]))
    run = take(ansible_module, where, "rp-bad", dict(etcd_args(lab), storage="s3://backups/etcd",
                                                     sse_kms_key_id="alias/rollback"))
    assert run.failed and run.result["msg"] == "sse_kms_key_id needs sse aws:kms"
    assert not os.path.exists(where["manifests"]) and sorted(os.walk(where["backups"])) == before


def test_retention_never_removes_the_newest_restore_point_of_any_kind(lab, ansible_module, where):
    assert not take(ansible_module, where, "svc-1", pg_args(lab)).failed  # the only dump
    for restore_point in ("svc-2", "svc-3"):
        assert not take(ansible_module, where, restore_point, etcd_args(lab)).failed
    files = {}
    for name in os.listdir(where["manifests"]):
        with open(os.path.join(where["manifests"], name)) as handle:
            files[name[:-len(".json")]] = [i["path"] for i in json.load(handle)["items"]]

    planned = ansible_module("backup", dict(action="retain", manifest_dir=where["manifests"], keep=1), check=True)
    assert planned.result["removed"] == ["svc-2"]
    assert all(os.path.exists(path) for items in files.values() for path in items)

    run = ansible_module("backup", dict(action="retain", manifest_dir=where["manifests"], keep=1))
    assert run.result["changed"] and run.result["removed"] == ["svc-2"]
    assert run.result["kept"] == ["svc-1", "svc-3"], "svc-1 holds the newest dump, svc-3 is the newest"
    assert os.path.exists(files["svc-1"][0]) and os.path.exists(files["svc-3"][0])
    assert not os.path.exists(files["svc-2"][0])
    assert not os.path.exists(os.path.join(where["manifests"], "svc-2.json"))
    run = ansible_module("backup", dict(action="retain", manifest_dir=where["manifests"], keep=0))
    assert run.failed and "at least 1" in run.result["msg"]


def test_an_s3_held_dump_restores(lab, ansible_module, where, s3_db, tmp_path):
    name, sql = s3_db
    s3 = boto3.client("s3", endpoint_url=lab["LAB_AWS_ENDPOINT"], region_name="us-east-1",
                      aws_access_key_id="testing", aws_secret_access_key="testing")
    bucket = "rollback-backups-test"
    s3.create_bucket(Bucket=bucket)
    storage = "s3://%s/predeploy/%s" % (bucket, name)
    aws = dict(endpoint_url=lab["LAB_AWS_ENDPOINT"], region="us-east-1", access_key="testing", secret_key="testing")
    run = take(ansible_module, where, "rp-s3", dict(pg_args(lab), db=name, storage=storage, **aws))
    assert not run.failed, run.stdout
    item = run.result["item"]
    key = "predeploy/%s/%s" % (name, os.path.basename(item["path"]))
    assert item["s3"] == "s3://%s/%s" % (bucket, key) and item["sse"] == "AES256"
    head = s3.head_object(Bucket=bucket, Key=key)
    assert head["ServerSideEncryption"] == "AES256" and head["ContentLength"] == item["size"]
    assert head["Metadata"]["rollback-core-sha256"] == item["sha256"]
    os.unlink(item["path"])  # the host that took it is gone: only S3 holds the dump
    sql(name, "INSERT INTO orders VALUES (4)")

    aws_env = dict(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1",
                   AWS_ENDPOINT_URL_S3=lab["LAB_AWS_ENDPOINT"])
    restore = dict(login_host="127.0.0.1", login_port=int(lab["LAB_PG_PORT"]), login_user="postgres",
                   login_password=lab["LAB_PG_PASSWORD"], db=name, dump_dir=storage + "/",
                   dump_pattern=name + "-*.dump", pg_bin_dir=PG_BIN, emergency_backup=False)
    run = ansible_module("postgres_restore", restore, env=aws_env)
    assert not run.failed, run.stdout
    assert run.result["backup_used"] == item["s3"] and run.result["restored_db"] == name
    assert sql(name, "SELECT count(*) FROM orders") == [(3,)]
    assert 0 <= run.result["data_loss_window"]["seconds"] < 600
    assert not [n for n in os.listdir(tempfile.gettempdir()) if n.startswith(".rollback-core-")], "temp file left"

    s3.put_object(Bucket=bucket, Key=key, Body=b"PGDMP corrupt", Metadata={"rollback-core-sha256": item["sha256"]})
    restore.pop("dump_dir")
    run = ansible_module("postgres_restore", dict(restore, dump="s3://%s/%s" % (bucket, key)), env=aws_env)
    assert run.failed and "does not match its sha256" in run.result["msg"]

    # A configuration backup the same way: env_file_restore takes the newest object under its s3:// backup_dir.
    env = tmp_path / "app.env"
    env.write_text("A=1\n")
    run = take(ansible_module, where, "rp-s3", dict(kind="env_file", path=str(env), backup_dir=str(tmp_path / "b"),
                                                    storage=storage, **aws))
    assert not run.failed and run.result["item"]["s3"].startswith(storage + "/app.env.backup-"), run.stdout
    taken_env = run.result["item"]["s3"]
    os.unlink(run.result["item"]["path"])
    env.write_text("A=2\n")
    run = ansible_module("env_file_restore", dict(path=str(env), backup_dir=storage), env=aws_env)
    assert not run.failed and run.result["backup_used"] == taken_env, run.stdout
    assert env.read_text() == "A=1\n"


def test_deep_verify_restores_into_a_scratch_database_and_runs_the_verify_sql(lab, ansible_module, where, s3_db):
    name, sql = s3_db
    assert not take(ansible_module, where, "rp-deep", dict(pg_args(lab), db=name)).failed
    login = dict((k, v) for k, v in pg_args(lab).items() if k.startswith("login_"))
    check = dict(name="orders", sql="SELECT count(*) FROM orders")
    run = verify(ansible_module, where, owner="svc", deep=True, verify=[dict(check, expect=3)], **login)
    assert not run.failed, run.stdout
    [point] = run.result["verified"]
    assert point["deep_checks"] == [dict(name="orders", as_role=None, rows=1, value="3")]
    run = verify(ansible_module, where, owner="svc", deep=True, verify=[dict(check, expect=4)], **login)
    assert run.failed
    assert run.result["msg"].startswith("restore point rp-deep: deep verify of %s" % os.path.join(
        where["backups"], "db")) and run.result["msg"].endswith("verify orders failed: got 3, expected 4")
    assert sql("postgres", "SELECT datname FROM pg_database WHERE datname LIKE 'rollback_verify_%'") == []


def test_the_playbook_deep_verifies_the_database_of_the_service(lab_env, taken):
    run = run_playbook(lab_env, "backup.yml", "-e", "action=verify", "-e", "deep=true", "-e", "services=demo-server")
    assert run.rc == 0, run.output[-3000:]
    assert "deep_checks:" in run.output and "name: items present" in run.output, run.output[-3000:]
