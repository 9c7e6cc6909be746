"""Known secret values never appear at -vvv: not in the output, the Ansible log, the report or the timeline.

Secrets used: the PostgreSQL and Redis passwords (the lab's real ones), a Kubernetes API token, an AWS secret
key, a webhook URL, an HTTP check's bearer token, a Kubernetes Secret's value, masked etcd values, and the
maintenance endpoint's and status page's tokens (the drill runs with both).
"""

import base64
import glob
import json
import os

import etcd3gw
import yaml
from module_batch import task_outputs
from playbook_runs import DRILL_AWS_SECRET, DRILL_WEBHOOK_TOKEN, MAINTENANCE_TOKEN, REPO, STATUS_TOKEN, deploy_bad

AWS_SECRET = DRILL_AWS_SECRET
KUBE_TOKEN = "kube-token-5d2a"
WEBHOOK_TOKEN = DRILL_WEBHOOK_TOKEN
BEARER = "bearer-token-1a4c"
SECRET_VALUE = "k8s-secret-value-2b8d"
ALEMBIC = os.path.join(REPO, "tests", "integration", "files", "alembic")
ETCD_LIVE, ETCD_BACKUP = "etcd-live-secret-6e0f", "etcd-backup-secret-3c7a"


def secrets(lab):
    return [lab["LAB_PG_PASSWORD"], lab["LAB_REDIS_PASSWORD"], AWS_SECRET, KUBE_TOKEN, WEBHOOK_TOKEN, BEARER,
            SECRET_VALUE, base64.b64encode(SECRET_VALUE.encode()).decode(), ETCD_LIVE, ETCD_BACKUP,
            MAINTENANCE_TOKEN, STATUS_TOKEN]


def leaked(lab, *texts):
    return [secret for secret in secrets(lab) for text in texts if secret in text]


def test_every_module_at_vvv_shows_no_secret(module_batch, lab, lab_env, tmp_path):
    deploy_bad(lab_env)
    etcd = etcd3gw.client(host="127.0.0.1", port=int(lab["LAB_ETCD_ENDPOINT"].rsplit(":", 1)[1]))
    etcd.put("/secrets-test/db_password", ETCD_LIVE)
    backup = tmp_path / "etcd.json"
    backup.write_text(json.dumps({"/secrets-test/db_password": ETCD_BACKUP, "/secrets-test/mode": "safe"}))
    manifest = tmp_path / "secret.yaml"
    manifest.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "api-keys"},
                                        "data": {"token": base64.b64encode(SECRET_VALUE.encode()).decode()}}))
    dumps = sorted(glob.glob(os.path.join(lab["LAB_DIR"], "backups", "db", "*.dump")))
    log = tmp_path / "ansible.log"
    runs = [
        ("postgres_restore", dict(db="demo", dump=dumps[-1], login_host=lab["LAB_PG_HOST"],
                                  login_port=int(lab["LAB_PG_PORT"]), login_user=lab["LAB_PG_USER"],
                                  login_password=lab["LAB_PG_PASSWORD"], pg_bin_dir=lab["LAB_PG_BIN"],
                                  emergency_backup_dir=str(tmp_path)), True),
        ("postgres_restore", dict(db="demo", dump=dumps[-1], login_host=lab["LAB_PG_HOST"],
                                  login_port=int(lab["LAB_PG_PORT"]), login_user=lab["LAB_PG_USER"],
                                  login_password=lab["LAB_PG_PASSWORD"] + "-wrong", pg_bin_dir=lab["LAB_PG_BIN"],
                                  emergency_backup_dir=str(tmp_path)), False),
        ("rds_snapshot_restore", dict(db_instance_identifier="demo-db", latest=True, region="us-east-1",
                                      endpoint_url=lab["LAB_AWS_ENDPOINT"], access_key="testing",
                                      secret_key=AWS_SECRET), True),
        ("rollout_undo", dict(platform="kubernetes", name="demo", host=lab["LAB_KUBE_HOST"], api_key=KUBE_TOKEN),
         True),
        ("traffic", dict(platform="kubernetes", name="demo", state="stopped", host=lab["LAB_KUBE_HOST"],
                         api_key=KUBE_TOKEN), True),
        ("k8s_config_restore", dict(backup=str(manifest), host=lab["LAB_KUBE_HOST"], api_key=KUBE_TOKEN), True),
        ("k8s_config_restore", dict(backup=str(manifest), host=lab["LAB_KUBE_HOST"], api_key=KUBE_TOKEN), False),
        ("etcd_config_restore", dict(prefix="/secrets-test/", backup=str(backup), mask=["*password*"],
                                     endpoints=[lab["LAB_ETCD_ENDPOINT"]]), False),
        ("env_file_restore", dict(path=lab["LAB_SERVER_ENV_FILE"]), True),
        ("smoke_check", dict(checks=[dict(name="health", url="http://127.0.0.1:%s/health" % lab["LAB_SERVER_PORT"],
                                          headers={"Authorization": "Bearer " + BEARER}, status=[200, 503])]), False),
        ("rollback_lock", dict(name="secrets-test", run_id="r1", lock_dir=str(tmp_path / "locks"),
                               info={"level": 1}), False),
        ("cache_invalidate", dict(host=lab["LAB_REDIS_HOST"], port=lab["LAB_REDIS_PORT"], db=13,
                                  password=lab["LAB_REDIS_PASSWORD"]), True),
        ("cache_invalidate", dict(host=lab["LAB_REDIS_HOST"], port=lab["LAB_REDIS_PORT"], db=13,
                                  password=lab["LAB_REDIS_PASSWORD"] + "-wrong"), True),
        ("migration_status", dict(db="demo", script_location=os.path.join(ALEMBIC, "1.0.0"),
                                  login_host=lab["LAB_PG_HOST"], login_port=int(lab["LAB_PG_PORT"]),
                                  login_user=lab["LAB_PG_USER"], login_password=lab["LAB_PG_PASSWORD"]), False),
        ("alb_traffic", dict(state="drained", target_group="secrets-test-missing", region="us-east-1",
                             endpoint_url=lab["LAB_AWS_ENDPOINT"], access_key="testing", secret_key=AWS_SECRET), True),
        ("frontend_restore", dict(bucket="secrets-test-missing", src=str(tmp_path), region="us-east-1",
                                  endpoint_url=lab["LAB_AWS_ENDPOINT"], access_key="testing",
                                  secret_key=AWS_SECRET), True),
    ]
    try:
        # One playbook at -vvv, a task per call (module_batch.py): the same module output as one `ansible` per call.
        batch = module_batch([(module, args, {"check_mode": check, "diff": True}) for module, args, check in runs],
                             env={"ANSIBLE_LOG_PATH": str(log)}, verbosity=3)
        for (module, _args, _check), run in zip(runs, batch):
            assert run.found and run.result, "%s gave no result: %s" % (module, run.stdout)
        assert [task for task, text in task_outputs(batch.output).items() if leaked(lab, text)] == [], "leaked at -vvv"
        assert leaked(lab, batch.output) == []
        assert leaked(lab, log.read_text()) == [], "the Ansible log has a secret"
        assert etcd.get("/secrets-test/db_password") == [ETCD_BACKUP.encode()], "the masked restore did restore"
    finally:
        etcd.delete_prefix("/secrets-test/")


def test_the_drill_at_vvv_leaks_nothing(lab, level3_drill):
    run = level3_drill.run
    assert run.rc == 0, run.output[-4000:]
    messages = level3_drill.hook_messages
    assert len(messages) == 2 and all(WEBHOOK_TOKEN in m["path"] for m in messages), "the hook was used"
    with open(os.path.join(run.report_dir, "report.json")) as handle:
        report = handle.read()
    with open(os.path.join(run.report_dir, "report.md")) as handle:
        markdown = handle.read()
    with open(level3_drill.log) as handle:
        log = handle.read()
    with open(level3_drill.timeline) as handle:
        timeline = handle.read()
    assert leaked(lab, run.output) == [], "the -vvv output has a secret"
    assert leaked(lab, log) == [], "the Ansible log has a secret"
    assert leaked(lab, report, markdown, timeline) == [], "the report or timeline has a secret"
