"""The production template launched as AWX launches it: ansible-runner (AWX's job runner) on a private data dir laid
out as AWX lays it out, as a non-root uid, credentials injected by awx/vars/objects.yml's custom types, against the
lab. What AWX does is in tests/support/awx_rules.py (cited there); the differences here: no container, so the
private data dir stands for /runner (paths injected are the dir's own), and the project is this checkout's files.

The job's inventory is the lab's PostgreSQL and Kubernetes targets as an AWX inventory holds them: an inventory
script (awx/main/tasks/jobs.py BaseTask.write_inventory_file), with no kubeconfig and no password in it (the
credentials bring them) and the report, emergency dump and saved configuration under rollback_data_dir, the volume
an execution environment keeps (everything else in the job's container is thrown away).
"""

import glob
import json
import os
import shutil
import subprocess
import tempfile

import pytest
import yaml
from playbook_runs import deploy_bad, restore_good, versions
from support import awx_rules
from support.http_servers import webhook_receiver

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VENV_BIN = os.path.join(REPO, ".venv", "bin")
JOB_UID = 1000  # ansible-builder's default user in the image (execution-environment.yml options.user)
PRODUCTION = "rollback.core - rollback production"


@pytest.fixture(scope="module")
def awx_objects():
    render = os.path.join(REPO, "tests", "support", "awx_render.py")
    completed = subprocess.run([os.path.join(VENV_BIN, "python"), render,
                                os.path.join(REPO, "awx", "controller.yml"),
                                os.path.join(REPO, "awx", "settings.example.yml"),
                                os.path.join(REPO, "awx", "secrets.example.yml")],
                               capture_output=True, text=True, check=True, cwd=REPO,
                               env=dict(os.environ, PYTHONPATH=""))
    calls = json.loads(completed.stdout)["calls"]
    return {(c["module"], c["params"].get("name")): c["params"] for c in calls}


def deploy_bad_for_the_job(lab, lab_env):
    """deploy_bad, its dumps readable by the job: playbooks/backup.yml ran as root and wrote them 0600 in a 0700
    directory (roles/backup), the job runs as JOB_UID (the image's user) and restores the newest one."""
    deploy_bad(lab_env)
    for root, _dirs, files in os.walk(lab["LAB_DB_BACKUP_DIR"]):
        for name in [root] + [os.path.join(root, f) for f in files]:
            os.chown(name, JOB_UID, JOB_UID)


@pytest.fixture(scope="module")
def bad_release(lab, lab_env):
    deploy_bad_for_the_job(lab, lab_env)
    yield
    restore_good(lab_env)


def project_sync(destination):
    """The project checkout (tracked and new files) and its collections/requirements.yml installed, as a sync does."""
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                           capture_output=True, check=True).stdout.split(b"\0")
    for name in filter(None, (f.decode() for f in files)):
        source = os.path.join(REPO, name)
        if os.path.isfile(source):
            os.makedirs(os.path.dirname(os.path.join(destination, "project", name)), exist_ok=True)
            shutil.copy2(source, os.path.join(destination, "project", name))
    collections = os.path.join(destination, "requirements_collections")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    subprocess.run([os.path.join(VENV_BIN, "ansible-galaxy"), "collection", "install", "-r",
                    "collections/requirements.yml"], cwd=os.path.join(destination, "project"), check=True,
                   capture_output=True, env=dict(env, ANSIBLE_COLLECTIONS_PATH=collections))
    assert os.path.isdir(os.path.join(collections, "ansible_collections", "rollback", "core", "roles"))


def lab_inventory(lab, data_dir, kubeconfig_from_inventory):
    connection = {"name": lab["LAB_KUBE_DEPLOYMENT"], "namespace": lab["LAB_KUBE_NAMESPACE"]}
    if kubeconfig_from_inventory:
        connection["kubeconfig"] = "{{ lookup('ansible.builtin.env', 'K8S_AUTH_KUBECONFIG') }}"
    local = {"ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}"}
    return {
        "all": {"children": ["ungrouped", "rollback_services", "rollback_databases"], "vars": {
            "rollback_environment": "awx-lab",
            "rollback_data_dir": data_dir,
            "rollback_report_dir": "{{ rollback_data_dir }}/reports",
            "rollback_lock_backend": "etcd",
            "rollback_lock_etcd": {"endpoints": [lab["LAB_ETCD_ENDPOINT"]]},
            "rollback_lock_ttl": 600,
            "rollback_notify_webhook_url": "{{ vault_slack_webhook_url }}",
            "rollback_wait_timeout": 60,
            "rollback_verify_rounds": 3,
            "rollback_verify_interval": 0.5}},
        "ungrouped": {"hosts": ["localhost"]},
        "rollback_services": {"hosts": ["demo-kubernetes"]},
        "rollback_databases": {"hosts": ["demo-postgres"]},
        "_meta": {"hostvars": {
            "localhost": dict(local, remote_tower_enabled="true", remote_tower_id=1),
            "demo-kubernetes": dict(local, remote_tower_enabled="true", remote_tower_id=2,
                                    rollback_service_target="kubernetes",
                                    rollback_service_databases=["demo-postgres"],
                                    rollback_service_connection=connection,
                                    rollback_service_checks=[]),
            "demo-postgres": dict(local, remote_tower_enabled="true", remote_tower_id=3,
                                  rollback_database_type="postgres",
                                  rollback_database_restore={
                                      "db": "demo", "dump_dir": lab["LAB_DB_BACKUP_DIR"], "dump_pattern": "demo-*.dump",
                                      "emergency_backup_dir": "{{ rollback_data_dir }}/backups/emergency",
                                      "login_host": lab["LAB_PG_HOST"], "login_port": lab["LAB_PG_PORT"],
                                      "login_user": lab["LAB_PG_USER"],
                                      "login_password": "{{ vault_lab_pg_password }}",
                                      "pg_bin_dir": "/usr/lib/postgresql/15/bin",
                                      "verify": [{"name": "items present", "sql": "SELECT id FROM items",
                                                  "min_rows": 1}]})}},
    }


def launch(lab, awx_objects, job_python, answers, data_dir, webhook_url, pod=False, kubeconfig_from_inventory=True):
    """One job of the production template, as AWX's RunJob prepares and runs it. Returns (rc, stdout)."""
    template = awx_objects[("job_template", PRODUCTION)]
    # The production survey, its choices those of this job's inventory (as for an AWX inventory of the lab).
    inventory = lab_inventory(lab, data_dir, kubeconfig_from_inventory)
    spec = json.loads(json.dumps(template["survey_spec"]))
    for question in spec["spec"]:
        if question["variable"] in ("services", "databases"):
            question["choices"] = inventory["rollback_%s" % question["variable"]]["hosts"]
    assert awx_rules.survey_launch_errors(spec, answers) == [], "AWX would refuse this launch"
    private = tempfile.mkdtemp(prefix="awx_6042_")
    try:
        for sub in ("inventory", "env", "project", "cp"):
            os.makedirs(os.path.join(private, sub), exist_ok=True)
        project_sync(private)
        meta = {"%s_%s" % (prefix, key): value for prefix in ("awx", "tower") for key, value in {
            "job_id": 6042, "job_launch_type": "workflow", "workflow_job_id": 6041,
            "workflow_job_name": "rollback.core - production rollback with approval", "user_id": 7,
            "user_name": "oncall-alice", "user_email": "alice@example.com", "inventory_id": 3,
            "inventory_name": "rollback.core production", "job_template_id": 12, "job_template_name": PRODUCTION,
            "project_revision": "0" * 40}.items()}
        extra_vars = awx_rules.job_extra_vars(template.get("extra_vars"), spec, answers)
        extra_vars.update(meta)
        with open(os.path.join(private, "env", "extravars"), "w") as handle:
            handle.write(awx_rules.awx_extravars_yaml(extra_vars, trusted=template.get("extra_vars")))
        env = {"JOB_ID": "6042", "INVENTORY_ID": "3", "PROJECT_REVISION": "0" * 40,
               "ANSIBLE_RETRY_FILES_ENABLED": "False", "AWX_HOST": "https://awx.example.com",
               "ANSIBLE_SSH_CONTROL_PATH_DIR": os.path.join(private, "cp"), "AWX_PRIVATE_DATA_DIR": private,
               "ANSIBLE_COLLECTIONS_PATH": ":".join([os.path.join(private, "requirements_collections"), ".collections",
                                                     "~/.ansible/collections", "/usr/share/ansible/collections"]),
               "PATH": job_python[1] + ":/usr/bin:/bin", "PYTHONPATH": job_python[2], "HOME": private,
               "USER": "runner", "LANG": "C.UTF-8"}
        if pod:  # a container group's job pod
            env.update(KUBERNETES_SERVICE_HOST="10.96.0.1", KUBERNETES_SERVICE_PORT="443")
        args = ["-u", "root", "--diff"]  # RunJob.build_args: no machine credential -> root; diff_mode
        types = {params["name"]: params for (module, _name), params in awx_objects.items()
                 if module == "credential_type"}
        with open(lab["LAB_KUBECONFIG"]) as handle:
            inputs = {"rollback.core Kubernetes": {"kubeconfig": handle.read()},
                      "rollback.core PostgreSQL": {"password_variable": "vault_lab_pg_password",
                                                   "password": lab["LAB_PG_PASSWORD"]},
                      "rollback.core notification tokens": {"webhook_url": webhook_url}}
        for type_name, credential_inputs in inputs.items():
            injected_env, injected_args = awx_rules.inject_credential(types[type_name], credential_inputs, private,
                                                                      container_root=private)
            env.update(injected_env)
            args += injected_args
        with open(os.path.join(private, "env", "envvars"), "w") as handle:
            json.dump(env, handle)
        with open(os.path.join(private, "env", "cmdline"), "w") as handle:
            handle.write(" ".join(args))
        with open(os.path.join(private, "env", "settings"), "w") as handle:
            json.dump({"job_timeout": template["timeout"], "suppress_ansible_output": True,
                       "suppress_output_file": False}, handle)
        script = os.path.join(private, "inventory", "hosts")
        with open(script, "w") as handle:
            handle.write("#! /usr/bin/env python3\nprint(%r)\n" % json.dumps(inventory))
        os.chmod(script, 0o700)
        subprocess.run(["chown", "-R", "%d:%d" % (JOB_UID, JOB_UID), private], check=True)
        os.chmod(private, 0o700)
        completed = subprocess.run([os.path.join(job_python[1], "ansible-runner"), "run", private, "-p",
                                    template["playbook"], "--ident", "6042"], user=JOB_UID, group=JOB_UID,
                                   extra_groups=[], env={k: env[k] for k in ("PATH", "PYTHONPATH", "HOME", "LANG")},
                                   cwd="/", capture_output=True, text=True, timeout=900, check=False)
        stdout_file = os.path.join(private, "artifacts", "6042", "stdout")
        output = open(stdout_file).read() if os.path.exists(stdout_file) else completed.stdout + completed.stderr
        return completed.returncode, output
    finally:
        shutil.rmtree(private, ignore_errors=True)  # AWX_CLEANUP_PATHS: nothing in the private data dir survives


@pytest.fixture(scope="module")
def job_python():
    """(python, bin dir, PYTHONPATH) a non-root uid can run: the EE's own interpreter stands in for the image's.

    The venv's base interpreter may sit in a directory only root can enter (pyenv under /root): then the system
    python of the same version runs the venv's libraries, and ansible-playbook gets a wrapper using it.
    """
    import sysconfig

    site = sysconfig.get_paths(vars={"base": os.path.join(REPO, ".venv"), "platbase": os.path.join(REPO, ".venv")})
    version = "python%d.%d" % tuple(__import__("sys").version_info[:2])
    python = os.path.join("/usr/bin", version)
    if not os.path.exists(python):
        pytest.skip("no %s for the non-root job" % python)
    bin_dir = tempfile.mkdtemp(prefix="rollback-core-job-bin-")
    for tool in ("ansible-playbook", "ansible-runner"):
        with open(os.path.join(VENV_BIN, tool)) as handle:
            body = handle.read().split("\n", 1)[1]
        with open(os.path.join(bin_dir, tool), "w") as handle:
            handle.write("#!%s\n%s" % (python, body))
        os.chmod(os.path.join(bin_dir, tool), 0o755)
    os.chmod(bin_dir, 0o755)
    yield python, bin_dir, site["purelib"]
    shutil.rmtree(bin_dir, ignore_errors=True)


@pytest.fixture
def data_dir():
    path = tempfile.mkdtemp(prefix="rollback-core-data-")
    os.chown(path, JOB_UID, JOB_UID)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_production_level_3_launched_as_awx_launches_it(lab, lab_env, awx_objects, job_python, bad_release, data_dir):
    answers = {"level": "3", "services": ["demo-kubernetes"], "databases": ["demo-postgres"],
               "reason": "error rate 12% {{ 7 * 7 }}", "confirm_data_loss": "yes", "confirm": "yes"}
    webhook = webhook_receiver()
    try:
        rc, output = launch(lab, awx_objects, job_python, answers, data_dir, webhook.url)
    finally:
        webhook.stop()
    assert rc == 0, output[-6000:]
    [report_file] = glob.glob(os.path.join(data_dir, "reports", "*", "report.json"))
    assert os.stat(report_file).st_uid == JOB_UID, "written by the job's non-root uid"
    with open(report_file) as handle:
        report = json.load(handle)
    assert report["outcome"] not in ("failed", "refused"), report
    request = report["request"] if "request" in report else report
    assert str(request["level"]) == "3"
    assert request["operator"] == "oncall-alice", "the AWX user who launched it"
    assert request["services"] == ["demo-kubernetes"] and request["databases"] == ["demo-postgres"]
    # Survey answers reach the job as !unsafe (awx safe_dump): the reason is kept verbatim, never templated.
    assert request["reason"] == "error rate 12% {{ 7 * 7 }}"
    assert glob.glob(os.path.join(data_dir, "backups", "emergency", "*")), "the emergency dump is kept"
    assert versions(lab_env)["kubernetes"] == "1.0.0"
    texts = json.dumps([m["body"] for m in webhook.messages])
    assert "oncall-alice" in texts and len(webhook.messages) >= 2, webhook.messages
    lock = subprocess.run([os.path.join(VENV_BIN, "python"), "-c", (
        "import etcd3gw,sys; c=etcd3gw.client(host='127.0.0.1', port=int(sys.argv[1]));"
        "print(len(c.get_prefix('/rollback-core/locks/awx-lab')))"), lab["LAB_ETCD_ENDPOINT"].rsplit(":", 1)[1]],
        capture_output=True, text=True, check=True)
    assert lock.stdout.strip() == "0", "the etcd lock is released"


def test_in_a_job_pod_the_credentials_kubeconfig_wins_over_in_cluster_config(lab, lab_env, awx_objects, job_python,
                                                                             bad_release, data_dir):
    # A container group's pod has KUBERNETES_SERVICE_HOST; the inventory names no kubeconfig: the credential's
    # K8S_AUTH_KUBECONFIG must be used, as kubernetes.core does, not the pod's own service account.
    answers = {"level": "1", "services": ["demo-kubernetes"], "reason": "bad image", "confirm": "yes",
               "confirm_data_loss": "no"}  # required: AWX refuses a launch without it ("value missing")
    deploy_bad_for_the_job(lab, lab_env)  # the module's bad_release was rolled back by the level 3 launch before
    rc, output = launch(lab, awx_objects, job_python, answers, data_dir, "", pod=True, kubeconfig_from_inventory=False)
    assert rc == 0, output[-6000:]
    assert versions(lab_env)["kubernetes"] == "1.0.0", output[-6000:]


def test_the_answers_file_is_what_awx_writes(awx_objects):
    template = awx_objects[("job_template", PRODUCTION)]
    answers = {"level": "2", "services": ["api", "web"], "reason": "x {{ y }}", "confirm": "yes"}
    extra_vars = awx_rules.job_extra_vars(template.get("extra_vars"), template["survey_spec"], answers)
    text = awx_rules.awx_extravars_yaml(extra_vars)
    assert "!unsafe 'level': !unsafe '2'" in text and "- !unsafe 'api'" in text

    class Loader(yaml.SafeLoader):
        pass

    Loader.add_constructor("!unsafe", lambda loader, node: loader.construct_scalar(node))
    loaded = {}
    for document in yaml.load_all(text, Loader=Loader):
        loaded.update(document or {})
    assert loaded["services"] == ["api", "web"] and loaded["confirm_data_loss"] == "no"  # the survey default
