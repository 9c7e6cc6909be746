"""The bad-input catalogue: every module refuses bad input with one clear line and changes nothing.

Each case runs a module through Ansible against the lab, with the bad 1.0.1 release deployed (so every
rollback target exists), and compares the lab's whole state before the catalogue and right after the case
(lab_state.py): the demo database's rows and the list of databases, the etcd keys, the ConfigMap, the
Kubernetes Deployment, the running Compose image, the server's current release, the env file, the RDS
instances and the lock directory. The cases run as the tasks of one playbook (one `ansible-playbook` start
instead of 63 `ansible` starts, about 2 s each). The playbook's own bad
requests are in test_playbook_rollback.py (BAD_REQUESTS).
"""

import os

import pytest
from lab_state import lab_state
from module_batch import run_module_batch
from playbook_runs import deploy_bad


def files(tmp):
    """Bad backup and dump files, created per case in ``tmp``."""
    os.makedirs(tmp, exist_ok=True)
    made = {}
    for name, content in {
        "empty.json": "", "not-json.json": "{not json", "list-of-strings.json": '["a", "b"]',
        "outside.json": '{"/other/key": "v"}', "nested.json": '{"/demo/config/a": {"b": 1}}',
        "empty-object.json": "{}", "not-yaml.yaml": "a: [b\n", "deployment.yaml": "kind: Deployment\n"
        "apiVersion: apps/v1\nmetadata: {name: x}\n", "no-name.yaml": "kind: ConfigMap\napiVersion: v1\n"
        "metadata: {}\ndata: {a: b}\n", "bad-secret.yaml": "kind: Secret\napiVersion: v1\nmetadata: {name: s}\n"
        "data: {a: '***'}\n", "bad.env": "THIS IS NOT AN ENV LINE\n", "empty.env": "\n# only a comment\n",
        "garbage.dump": "\x00\x01garbage" * 100, "truncated.dump": "PGDMP\x01\x0e\x00\x04\x08\x01\x01",
    }.items():
        path = os.path.join(tmp, name)
        with open(path, "w") as handle:
            handle.write(content)
        made[name] = path
    os.makedirs(os.path.join(tmp, "no-backups"))
    made["no-backups"] = os.path.join(tmp, "no-backups")
    return made


def cases(lab, f):
    kube = dict(platform="kubernetes", name="demo", kubeconfig=lab["LAB_KUBECONFIG"], wait_timeout=5)
    compose = dict(platform="compose", name="demo", project_src=lab["LAB_COMPOSE_DIR"], wait_timeout=10)
    server = dict(platform="server", name="demo", releases_dir=lab["LAB_SERVER_RELEASES_DIR"],
                  units=[lab["LAB_SERVER_UNIT"]], wait_timeout=10)
    etcd = dict(prefix="/demo/config/", endpoints=[lab["LAB_ETCD_ENDPOINT"]])
    pg = dict(db="demo", login_host=lab["LAB_PG_HOST"], login_port=int(lab["LAB_PG_PORT"]),
              login_user=lab["LAB_PG_USER"], login_password=lab["LAB_PG_PASSWORD"], pg_bin_dir=lab["LAB_PG_BIN"],
              emergency_backup_dir=os.path.join(os.path.dirname(f["empty.json"]), "emergency"))
    dumps = sorted(os.listdir(os.path.join(lab["LAB_DIR"], "backups", "db")))
    good_dump = os.path.join(lab["LAB_DIR"], "backups", "db", dumps[-1])
    aws = dict(endpoint_url=lab["LAB_AWS_ENDPOINT"], region="us-east-1", access_key="testing", secret_key="testing",
               wait_timeout=5)
    config_map = os.path.join(lab["LAB_DIR"], "backups", "kubernetes",
                              sorted(os.listdir(os.path.join(lab["LAB_DIR"], "backups", "kubernetes")))[-1])
    env = lab["LAB_SERVER_ENV_FILE"]
    return [
        # rollout_undo
        ("rollout_undo", dict(kube, platform="nomad"), "value of platform must be one of"),
        ("rollout_undo", dict(kube, replicas=3), "Unsupported parameters"),
        ("rollout_undo", dict(kube, kind="Job"), "value of kind must be one of"),
        ("rollout_undo", dict(kube, wait_timeout="soon"), "wait_timeout"),
        ("rollout_undo", dict(kube, to_revision=999), "revision 999 of deployment default/demo not found"),
        ("rollout_undo", dict(kube, name="nope"), "deployment default/nope failed: 404"),
        ("rollout_undo", dict(kube, kubeconfig="/nonexistent/kubeconfig"), "cannot load the Kubernetes configuration"),
        ("rollout_undo", dict(kube, kubeconfig=None, host="http://127.0.0.1:9"), "Kubernetes API unreachable"),
        ("rollout_undo", dict(compose, project_src="/nonexistent"), "project_src /nonexistent is not a directory"),
        ("rollout_undo", dict(compose, to_version="9.9.9"),
         "registry %s has no image %s:9.9.9" % (lab["LAB_REGISTRY"], lab["LAB_DEMO_IMAGE"])),
        ("rollout_undo", dict(compose, services=["nope"]), "service(s) nope not in compose project demo"),
        ("rollout_undo", dict(compose, to_version="../1.0.0"),
         "to_version '../1.0.0' is neither a commit of a git work tree holding the project nor a valid image tag"),
        ("rollout_undo", dict(server, to_version="v9.9.9"), "release v9.9.9 not found"),
        ("rollout_undo", dict(server, releases_dir="/nonexistent"), "has no releases/ directory"),
        ("rollout_undo", dict(server, repo_dir=lab["LAB_SERVER_REPO_DIR"]), "mutually exclusive"),
        ("rollout_undo", dict(server, units=["nope.service"]), "unit nope.service not found"),
        # etcd_config_restore
        ("etcd_config_restore", dict(etcd, backup="/nonexistent.json"), "cannot read backup /nonexistent.json"),
        ("etcd_config_restore", dict(etcd, backup=f["empty.json"]), "is not valid JSON"),
        ("etcd_config_restore", dict(etcd, backup=f["not-json.json"]), "is not valid JSON"),
        ("etcd_config_restore", dict(etcd, backup=f["empty-object.json"]), "holds no keys"),
        ("etcd_config_restore", dict(etcd, backup=f["list-of-strings.json"]), "must be an object with 'key'"),
        ("etcd_config_restore", dict(etcd, backup=f["nested.json"]), "values must be strings or numbers"),
        ("etcd_config_restore", dict(etcd, backup=f["outside.json"]), "outside prefix /demo/config/"),
        ("etcd_config_restore", dict(etcd, prefix="", backup=f["outside.json"]), "prefix must not be empty"),
        ("etcd_config_restore", dict(etcd, backup=f["outside.json"], prefix="/other/",
                                     endpoints=["http://127.0.0.1:9"]), "no etcd endpoint answered"),
        ("etcd_config_restore", dict(etcd, backup=f["outside.json"], prefix="/other/", client_cert="/c.pem"),
         "client_cert and client_key must be given together"),
        # k8s_config_restore
        ("k8s_config_restore", dict(backup=f["not-yaml.yaml"], kubeconfig=lab["LAB_KUBECONFIG"]),
         "is not valid YAML/JSON"),
        ("k8s_config_restore", dict(backup=f["deployment.yaml"], kubeconfig=lab["LAB_KUBECONFIG"]),
         "only ConfigMap and Secret are restored"),
        ("k8s_config_restore", dict(backup=f["no-name.yaml"], kubeconfig=lab["LAB_KUBECONFIG"]),
         "has no metadata.name"),
        ("k8s_config_restore", dict(backup=f["bad-secret.yaml"], kubeconfig=lab["LAB_KUBECONFIG"]), "is not base64"),
        ("k8s_config_restore", dict(backup=f["empty.json"], kubeconfig=lab["LAB_KUBECONFIG"]), "holds no objects"),
        ("k8s_config_restore", dict(backup=config_map, kubeconfig=lab["LAB_KUBECONFIG"], save_current_to="/no/dir/x"),
         "save_current_to: directory /no/dir does not exist"),
        # env_file_restore
        ("env_file_restore", dict(path=env, backup=f["bad.env"]), "is not KEY=VALUE"),
        ("env_file_restore", dict(path=env, backup=f["empty.env"]), "empty"),
        ("env_file_restore", dict(path=env, backup_dir=f["no-backups"]), "no env file backup matching"),
        ("env_file_restore", dict(path=env, backup=f["bad.env"], backup_dir=f["no-backups"]), "mutually exclusive"),
        # postgres_restore
        ("postgres_restore", dict(pg, dump="/nonexistent.dump"), "cannot read dump /nonexistent.dump"),
        ("postgres_restore", dict(pg, dump=f["garbage.dump"]), "is neither a pg_dump archive nor SQL text"),
        ("postgres_restore", dict(pg, dump=f["truncated.dump"]), "failed"),
        ("postgres_restore", dict(pg, dump=good_dump, login_password="wrong-password"), "password authentication"),
        ("postgres_restore", dict(pg, dump=good_dump, db="nope"), "database nope does not exist"),
        ("postgres_restore", dict(pg, dump=good_dump, login_port=9), "cannot connect to PostgreSQL"),
        ("postgres_restore", dict(pg, dump=good_dump, emergency_backup_dir=None), "emergency_backup_dir"),
        ("postgres_restore", dict(pg, dump=good_dump, jobs="many"), "jobs"),
        ("postgres_restore", dict(pg, dump=good_dump, pg_bin_dir="/nonexistent"), "pg_bin_dir /nonexistent"),
        # rds_snapshot_restore
        ("rds_snapshot_restore", dict(aws, db_instance_identifier="nope", latest=True),
         "source instance nope not found"),
        ("rds_snapshot_restore", dict(aws, db_instance_identifier="demo-db", db_snapshot_identifier="nope"),
         "snapshot nope not found"),
        ("rds_snapshot_restore", dict(aws, db_instance_identifier="demo-db"), "choose what to restore"),
        ("rds_snapshot_restore", dict(aws, db_instance_identifier="demo-db", latest=True, db_snapshot_identifier="x"),
         "mutually exclusive"),
        ("rds_snapshot_restore", dict(aws, db_instance_identifier="demo-db", latest=True,
                                      restore_options=dict(NotAnOption=1)), "restore_options not accepted"),
        ("rds_snapshot_restore", dict(aws, db_instance_identifier="demo-db", latest=True,
                                      endpoint_url="http://127.0.0.1:9"), "Could not connect to the endpoint URL"),
        # smoke_check, rollback_decision
        ("smoke_check", dict(rounds=1), "nothing to verify"),
        ("smoke_check", dict(checks=[dict(name="a")]), "url"),
        ("smoke_check", dict(checks=[dict(name="a", url="http://127.0.0.1:9/")], rounds=0),
         "rounds must be at least 1"),
        ("smoke_check", dict(checks=[dict(name="a", url="http://127.0.0.1:9/"), dict(name="a", url="http://x/")]),
         "check names must be unique"),
        ("rollback_decision", dict(thresholds=dict(nonsense=1)), "unknown threshold(s) nonsense"),
        ("rollback_decision", dict(error_rate_percent="lots"), "error_rate_percent"),
        # traffic, rollback_lock, incident_report
        ("traffic", dict(platform="server", name="demo", state="stopped"), "needs maintenance_file or units"),
        ("traffic", dict(kube, state="paused"), "value of state must be one of"),
        ("traffic", dict(platform="kubernetes", name="nope", state="stopped", kubeconfig=lab["LAB_KUBECONFIG"]),
         "deployment default/nope failed: 404"),
        ("rollback_lock", dict(name="lab", run_id="r", ttl=0, lock_dir=os.path.join(lab["LAB_DIR"], "locks")),
         "ttl must be at least 1 second"),
        ("rollback_lock", dict(name="../lab", run_id="r", lock_dir=os.path.join(lab["LAB_DIR"], "locks")),
         "must not contain /"),
        ("incident_report", dict(report={}, dest=os.path.join(f["empty.json"], "x")), "cannot write the report"),
    ]


COUNT = 63


class Refusals:
    """The whole catalogue run once against the bad release, as one playbook (module_batch.py), each case with its
    own bad files. The lab's state is recorded right after each case, before the next one starts, so each case is
    still judged alone: refused, in one line, and the lab as it was before the catalogue."""

    def __init__(self, lab, lab_env, directory):
        deploy_bad(lab_env)
        self.before = lab_state(lab)
        self.cases = [cases(lab, files(os.path.join(directory, str(number))))[number] for number in range(COUNT)]
        self.calls = [(module, dict((k, v) for k, v in args.items() if v is not None))
                      for module, args, _message in self.cases]
        env = dict(lab_env, PATH=lab["LAB_BIN"] + os.pathsep + lab_env["PATH"])
        self.runs = run_module_batch(env, self.calls, directory, state=lab_state)


@pytest.fixture(scope="module")
def refusals(lab, lab_env, tmp_path_factory):
    return Refusals(lab, lab_env, str(tmp_path_factory.mktemp("bad-input")))


@pytest.mark.parametrize("number", range(COUNT))
def test_bad_input_is_refused_with_one_line_and_nothing_changes(refusals, number):
    (module, args), message, run = refusals.calls[number], refusals.cases[number][2], refusals.runs[number]
    assert run.found, "case %d has no result: %s" % (number, run.stdout)
    msg = run.result.get("msg", "")
    assert run.failed, "%s %s was accepted: %s" % (module, args, run.stdout)
    assert message in msg, "%s: expected %r in %r" % (module, message, msg)
    assert "\n" not in msg.strip() and len(msg) < 600, "one clear line: %r" % msg
    assert not msg.startswith("unexpected error"), msg
    assert not run.result.get("changed"), "%s reported a change" % module
    assert run.state == refusals.before, "%s changed the lab (the first case named here is the one)" % module


def test_the_catalogue_has_every_case(lab, tmp_path):
    assert len(cases(lab, files(str(tmp_path)))) == COUNT
