"""Backups encrypted with age (rollback.core.backup ``encrypt``) and restored by the restore modules
(``decrypt_identity``), on the lab's etcd and PostgreSQL, the Kubernetes simulator and real files, with the real
``age`` (Debian age 1.1).

An age file starts with ``age-encryption.org/v1`` (https://github.com/C2SP/C2SP/blob/main/age.md, "Header"); a key
that opens none of its stanzas is refused with "no identity matched any of the recipients" (filippo.io/age age.go).
"""

import base64
import json
import os
import stat
import subprocess
import tempfile

import pytest
import yaml
from support.kube import Simulator
from test_backup import PG_BIN, etcd_args, pg_args, take, verify
from test_etcd_config_restore import client_for, read_prefix

MAGIC = b"age-encryption.org/v1"


@pytest.fixture
def keys(tmp_path):
    """Two age key pairs: ``identity``/``public`` the operators', ``other`` an identity that opens nothing."""
    found = {}
    for name in ("identity", "other"):
        path = str(tmp_path / ("%s.key" % name))
        subprocess.run(["age-keygen", "-o", path], check=True, capture_output=True)
        found[name] = path
    found["public"] = subprocess.run(["age-keygen", "-y", found["identity"]], check=True, capture_output=True,
                                     text=True).stdout.strip()
    return found


@pytest.fixture
def where(tmp_path):
    return dict(manifests=str(tmp_path / "manifests"), backups=str(tmp_path / "backups"))


def assert_ciphertext(path, *secrets, created_dir=True):
    """An age file, 0600 (in a 0700 directory the backup created), holding none of ``secrets`` in clear, and no
    partial beside it."""
    assert path.endswith(".age"), path
    with open(path, "rb") as handle:
        data = handle.read()
    assert data.startswith(MAGIC), data[:40]
    for secret in secrets:
        assert secret.encode() not in data
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    if created_dir:
        assert stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode) == 0o700
    assert not [n for n in os.listdir(os.path.dirname(path)) if n.startswith(".")], "no partial left"


def no_temporary_left():
    return not [n for n in os.listdir(tempfile.gettempdir()) if n.startswith(".rollback-core-")]


def test_etcd_backup_encrypted_restores_and_verify_catches_a_corrupt_ciphertext(lab, ansible_module, where, keys):
    prefix = "/rb-enc/%s/" % os.path.basename(where["manifests"] + os.urandom(4).hex())
    client = client_for(lab["LAB_ETCD_ENDPOINT"])
    client.put(prefix + "db/password", "enc-secret-1")
    try:
        args = dict(etcd_args(lab), prefix=prefix, encrypt=dict(recipients=[keys["public"]]))
        run = take(ansible_module, where, "rp-enc", args)
        assert not run.failed, run.stdout
        item = run.result["item"]
        assert item["encrypted"] == "age" and item["path"].endswith(".json.age"), item
        assert_ciphertext(item["path"], "enc-secret-1")
        assert item["size"] == os.path.getsize(item["path"]), "the manifest's size and sha256 are the ciphertext's"

        client.put(prefix + "db/password", "changed")
        restore = dict(prefix=prefix, backup_dir=os.path.dirname(item["path"]), backup_pattern="etcd-*.json",
                       endpoints=[lab["LAB_ETCD_ENDPOINT"]])
        # No identity: refused in the plan, nothing changed.
        run = ansible_module("etcd_config_restore", restore)
        assert run.failed and run.result["msg"] == (
            "etcd backup %s is encrypted with age: give decrypt_identity (the age identity file that decrypts it); "
            "nothing was changed" % item["path"])
        # An identity that is not a recipient: one clear error, nothing changed.
        run = ansible_module("etcd_config_restore", dict(restore, decrypt_identity=keys["other"]))
        assert run.failed and run.result["msg"] == (
            "cannot decrypt etcd backup %s with the identity %s: no identity matched any of the recipients; nothing "
            "was changed" % (item["path"], keys["other"]))
        assert read_prefix(client, prefix) == {prefix + "db/password": "changed"}

        run = ansible_module("etcd_config_restore", dict(restore, decrypt_identity=keys["identity"]))
        assert not run.failed, run.stdout
        assert run.result["backup_used"] == item["path"] and run.result["updated"] == [prefix + "db/password"]
        assert read_prefix(client, prefix) == {prefix + "db/password": "enc-secret-1"}
        assert "enc-secret-1" not in run.stdout and no_temporary_left()

        assert verify(ansible_module, where, decrypt_identity=keys["identity"]).result["problems"] == []
        with open(item["path"], "r+b") as handle:  # one byte of the payload flipped, the size kept
            handle.seek(-5, os.SEEK_END)
            byte = handle.read(1)
            handle.seek(-5, os.SEEK_END)
            handle.write(bytes([byte[0] ^ 0xFF]))
        run = verify(ansible_module, where)
        assert run.failed and run.result["msg"].startswith(
            "restore point rp-enc: etcd backup %s changed since it was taken: sha256 " % item["path"])
        run = verify(ansible_module, where, decrypt_identity=keys["identity"])
        assert run.failed and run.result["msg"].startswith(
            "restore point rp-enc: cannot decrypt etcd backup %s with the identity" % item["path"]), run.result["msg"]
        assert no_temporary_left()
    finally:
        client.delete_prefix(prefix)


def test_configmap_and_secret_list_encrypted_restores(ansible_module, where, keys, tmp_path):
    sim = Simulator(tmp_path, "config")
    try:
        sim.history()
        live = [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "api-config"},
                 "data": {"LOG_LEVEL": "info"}},
                {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "api-secret"}, "type": "Opaque",
                 "stringData": {"DB_PASSWORD": "k8s-enc-secret"}}]
        sim.kubectl("create", "--validate=false", "-f", "-", stdin=yaml.safe_dump_all(live))
        run = take(ansible_module, where, "rp-k8s", dict(kind="kubernetes", kubeconfig=sim.kubeconfig,
                                                         configmaps=["api-config"], secrets=["api-secret"],
                                                         encrypt=dict(recipients=[keys["public"]])))
        assert not run.failed, run.stdout
        backup = run.result["item"]["path"]
        assert os.path.basename(backup).startswith("api-config-") and backup.endswith(".json.age")
        assert_ciphertext(backup, "k8s-enc-secret", base64.b64encode(b"k8s-enc-secret").decode(), "LOG_LEVEL")
        sim.kubectl("patch", "configmap", "api-config", "-p", json.dumps({"data": {"LOG_LEVEL": "debug"}}))

        restore = dict(kubeconfig=sim.kubeconfig, backup_dir=os.path.dirname(backup), backup_pattern="api-config-*",
                       wait_timeout=10, wait_sleep=0.1)
        run = ansible_module("k8s_config_restore", restore)
        assert run.failed and "is encrypted with age: give decrypt_identity" in run.result["msg"]
        assert sim.get("configmap", "api-config")["data"] == {"LOG_LEVEL": "debug"}, "nothing changed"
        run = ansible_module("k8s_config_restore", dict(restore, decrypt_identity=keys["identity"]))
        assert not run.failed, run.stdout
        assert run.result["backup_used"] == backup and run.result["updated"] == ["ConfigMap default/api-config"]
        assert sim.get("configmap", "api-config")["data"] == {"LOG_LEVEL": "info"}
        assert no_temporary_left()
    finally:
        sim.stop()


def test_env_file_encrypted_round_trip_with_a_recipients_file(ansible_module, where, keys, tmp_path):
    recipients = tmp_path / "recipients.txt"
    recipients.write_text("%s\n" % keys["public"])
    env = tmp_path / "app.env"
    env.write_text("A=1\nDB_PASSWORD=env-enc-secret\n")
    run = take(ansible_module, where, "rp-env", dict(kind="env_file", path=str(env),
                                                     encrypt=dict(recipients_file=str(recipients))))
    assert not run.failed, run.stdout
    backup = run.result["item"]["path"]
    assert os.path.basename(backup).startswith("app.env.backup-") and backup.endswith(".age")
    assert_ciphertext(backup, "env-enc-secret")
    env.write_text("A=2\n")
    run = ansible_module("env_file_restore", dict(path=str(env), decrypt_identity=keys["identity"]))
    assert not run.failed, run.stdout
    assert run.result["backup_used"] == backup and env.read_text() == "A=1\nDB_PASSWORD=env-enc-secret\n"
    assert "env-enc-secret" not in run.stdout + run.stderr and no_temporary_left()


def test_pg_dump_encrypted_restores_and_deep_verifies(lab, ansible_module, where, keys, s3_db):
    name, sql = s3_db
    run = take(ansible_module, where, "rp-pg", dict(pg_args(lab), db=name, encrypt=dict(recipients=[keys["public"]])))
    assert not run.failed, run.stdout
    dump = run.result["item"]["path"]
    assert os.path.basename(dump).startswith(name + "-") and dump.endswith(".dump.age")
    assert_ciphertext(dump, "PGDMP")
    sql(name, "INSERT INTO orders VALUES (4)")

    restore = dict(login_host="127.0.0.1", login_port=int(lab["LAB_PG_PORT"]), login_user="postgres",
                   login_password=lab["LAB_PG_PASSWORD"], db=name, dump_dir=os.path.dirname(dump),
                   dump_pattern=name + "-*.dump", pg_bin_dir=PG_BIN, emergency_backup=False)
    run = ansible_module("postgres_restore", restore)
    assert run.failed and "is encrypted with age: give decrypt_identity" in run.result["msg"]
    run = ansible_module("postgres_restore", dict(restore, decrypt_identity=keys["other"]))
    assert run.failed and "no identity matched any of the recipients; nothing was changed" in run.result["msg"]
    assert sql(name, "SELECT count(*) FROM orders") == [(4,)], "nothing changed"

    run = ansible_module("postgres_restore", dict(restore, decrypt_identity=keys["identity"]))
    assert not run.failed, run.stdout
    assert run.result["backup_used"] == dump and run.result["restored_db"] == name
    assert sql(name, "SELECT count(*) FROM orders") == [(3,)]
    assert 0 <= run.result["data_loss_window"]["seconds"] < 600, "from the ciphertext's time"
    assert no_temporary_left()
    rerun = ansible_module("postgres_restore", dict(restore, decrypt_identity=keys["identity"]))
    assert not rerun.failed and rerun.result["changed"] is False, "the same encrypted dump is not restored twice"

    login = dict((k, v) for k, v in pg_args(lab).items() if k.startswith("login_"))
    run = verify(ansible_module, where, deep=True, decrypt_identity=keys["identity"],
                 verify=[dict(name="orders", sql="SELECT count(*) FROM orders", expect=3)], **login)
    assert not run.failed, run.stdout
    assert run.result["verified"][0]["deep_checks"] == [dict(name="orders", as_role=None, rows=1, value="3")]
    assert no_temporary_left()


def test_encrypt_is_refused_where_it_cannot_apply_before_anything_is_written(lab, ansible_module, where, keys):
    encrypt = dict(recipients=[keys["public"]])
    for args, message in (
            (dict(kind="marker", image="demo:1", encrypt=encrypt), "encrypt applies to file backups (etcd, kubernetes, "
             "env_file, postgres), not kind marker"),
            (dict(kind="rds", db_instance_identifier="demo-db", encrypt=encrypt), "encrypt applies to file backups "
             "(etcd, kubernetes, env_file, postgres), not kind rds"),
            (dict(pg_args(lab), dump_format="directory", encrypt=encrypt),
             "encrypt takes files: use dump_format custom for an encrypted dump"),
            (dict(etcd_args(lab), encrypt=dict(recipients=["age1bogus"])), "age refuses the encrypt recipients: "),
            (dict(etcd_args(lab), encrypt=dict()), "encrypt needs recipients")):
        run = take(ansible_module, where, "rp-bad", args)
        assert run.failed and run.result["msg"].startswith(message), run.result.get("msg")
    assert not os.path.exists(where["manifests"]) and not os.path.exists(where["backups"])


def test_the_backup_playbook_encrypts_and_a_level3_rollback_decrypts(lab, lab_env, keys):
    """rollback_backup_encrypt (backup role) and rollback_backup_decrypt_identity (config and database roles)."""
    from playbook_runs import DEPLOYED_BAD, labctl, restore_good, run_playbook
    labctl(lab_env, "deploy", "1.0.0", "--no-backup")
    # The etcd source's save_current_to directory, which only the lab's own backup (labctl deploy) creates.
    os.makedirs(os.path.join(lab["LAB_DIR"], "backups", "pre-rollback"), exist_ok=True)
    manifests = os.path.join(lab["LAB_DIR"], "backups", "manifests")
    before = set(os.listdir(manifests)) if os.path.isdir(manifests) else set()
    taken = {}
    try:
        run = run_playbook(lab_env, "backup.yml", "-e", "services=demo-server", "-e", "deploy_id=release-enc",
                           "-e", json.dumps(dict(rollback_backup_encrypt=dict(recipients=[keys["public"]]))))
        assert run.rc == 0, run.output[-3000:]
        points = {}
        for name in sorted(set(os.listdir(manifests)) - before):
            with open(os.path.join(manifests, name)) as handle:
                manifest = json.load(handle)
            points[manifest["owner"]] = manifest["restore_point"]
            for item in manifest["items"]:
                taken[item["kind"]] = item
        assert sorted(taken) == ["env_file", "etcd", "marker", "postgres"]
        for kind in ("env_file", "etcd", "postgres"):
            assert taken[kind]["encrypted"] == "age", taken[kind]
            assert_ciphertext(taken[kind]["path"], created_dir=kind != "env_file")  # beside the lab's env file
        assert "encrypted" not in taken["marker"]
        run = run_playbook(lab_env, "backup.yml", "-e", "action=verify", "-e", "services=demo-server",
                           "-e", "rollback_backup_decrypt_identity=" + keys["identity"])
        assert run.rc == 0, run.output[-3000:]

        DEPLOYED_BAD.append(True)
        labctl(lab_env, "deploy", "1.0.1", "--no-backup")
        rollback = ("rollback.yml", "-e", "level=3", "-e", "services=demo-server", "-e", "confirm_data_loss=true")
        run = run_playbook(lab_env, *rollback)
        assert run.rc != 0 and "is encrypted with age: give decrypt_identity" in run.output, run.output[-3000:]
        phases = [p for h in run.report["hosts"] for p in h["phases"]]
        assert phases and all(p["status"] == "not run" for p in phases), "refused by the preflight's plan"
        run = run_playbook(lab_env, *(rollback + ("-e", "rollback_backup_decrypt_identity=" + keys["identity"])))
        assert run.rc == 0, run.output[-4000:]
        restored = next(d for d in run.report["databases_restored"] if d["host"] == "demo-postgres")
        assert restored["backup_used"] == taken["postgres"]["path"]
        config = next(p for h in run.report["hosts"] if h["host"] == "demo-server" for p in h["phases"]
                      if p["phase"] == "config")
        used = dict((r["source"], r["backup_used"]) for r in config["details"]["results"])
        assert used == {"env_file": taken["env_file"]["path"], "etcd": taken["etcd"]["path"]}
        # The preflight named the restore point of each backup it planned to restore, with its age; the lab's deploy
        # carried on the deploy the backup started (same deploy id), so none is older than the last deploy.
        named = dict((r["backup"], r) for r in run.report["restore_points"])
        for kind in ("postgres", "env_file", "etcd"):
            row = named[taken[kind]["path"]]
            assert row["host"] == ("demo-postgres" if kind == "postgres" else "demo-server"), row
            assert row["restore_point"] == points[row["host"]], row
            assert row["deploy_id"] == "release-enc" and row["stale"] is False and row["age_seconds"] >= 0, row
        assert "restore point %s" % points["demo-postgres"] in run.output
    finally:  # the lab's other tests restore its plain backups: none of these may stay the newest
        for item in taken.values():
            if item.get("path", "").endswith(".age") and os.path.exists(item["path"]):
                os.unlink(item["path"])
        for name in set(os.listdir(manifests)) - before if os.path.isdir(manifests) else ():
            os.unlink(os.path.join(manifests, name))
        restore_good(lab_env)
