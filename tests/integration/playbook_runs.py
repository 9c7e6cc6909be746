"""Running the collection's playbooks against the lab, and reading what they did."""

import contextlib
import glob
import json
import os
import re
import subprocess
import tempfile

import psycopg2

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PYTHON = os.path.join(REPO, ".venv", "bin", "python")


class PlaybookRun:
    def __init__(self, completed):
        self.rc = completed.returncode
        self.stdout = completed.stdout
        self.stderr = completed.stderr
        self.output = completed.stdout + completed.stderr
        # The YAML result format wraps long messages: ``text`` is the output with every run of spaces/newlines as one.
        self.text = " ".join(self.output.split())
        match = re.search(r"report in (\S+)/report\.md", self.output)
        self.report_dir = match.group(1) if match else None

    @property
    def report(self):
        if not self.report_dir:
            return None
        with open(os.path.join(self.report_dir, "report.json")) as handle:
            return json.load(handle)


def _playbook_command(playbook, args, control_path_dir):
    # Each run its own SSH control sockets, as each AWX job in its own container: with the default ControlPersist
    # (60 s) a run would otherwise reuse the previous run's connection to the lab's remote host and never log in.
    return [os.path.join(REPO, ".venv", "bin", "ansible-playbook"), os.path.join(REPO, "playbooks", playbook),
            "-i", os.path.join(REPO, "inventories", "lab")] + list(args) + [
        "-e", "ansible_control_path_dir=" + control_path_dir]


def run_playbook(env, playbook, *args, timeout=600):
    with tempfile.TemporaryDirectory(prefix="cp-") as control_path_dir:
        completed = subprocess.run(_playbook_command(playbook, args, control_path_dir), cwd=REPO, env=env,
                                   capture_output=True, text=True, timeout=timeout, check=False)
    return PlaybookRun(completed)


@contextlib.contextmanager
def playbook_in_background(env, playbook, *args, timeout=600):
    """A playbook started and not waited for: yields ``(process, finish)``; ``finish()`` waits for it and returns its
    PlaybookRun (also called on leaving the block)."""
    with tempfile.TemporaryDirectory(prefix="cp-") as control_path_dir:
        process = subprocess.Popen(_playbook_command(playbook, args, control_path_dir), cwd=REPO, env=env,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        finished = []

        def finish():
            if not finished:
                stdout, stderr = process.communicate(timeout=timeout)
                finished.append(PlaybookRun(subprocess.CompletedProcess(process.args, process.returncode, stdout,
                                                                        stderr)))
            return finished[0]

        try:
            yield process, finish
        finally:
            finish()


def labctl(env, *args):
    if args and args[0] == "deploy":
        del UNTOUCHED_BAD[:]
    completed = subprocess.run([PYTHON, os.path.join(REPO, "lab", "labctl.py")] + list(args), cwd=REPO, env=env,
                               capture_output=True, text=True, timeout=300, check=False)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return completed.stdout


DEPLOYED_BAD = []
UNTOUCHED_BAD = []  # [backups] of the bad release's deploy while a test has said it is untouched (see below)


def deploy_bad(env, backups=True):
    """The lab at 1.0.0 everywhere, backed up, then 1.0.1 deployed (the state a rollback starts from).

    backups=False skips playbooks/backup.yml (9 s) where nothing restores a backup: a level 1 rollback (the app
    phase undoes releases; its preflight names the newest restore points of an earlier deploy, as stale ones).
    Right after a test that called bad_release_untouched(), the same deploy is used as it is (two deploys less)."""
    if UNTOUCHED_BAD == [backups]:
        del UNTOUCHED_BAD[:]
        return
    DEPLOYED_BAD.append(True)
    labctl(env, "deploy", "1.0.0", "--no-backup")
    labctl(env, "deploy", "1.0.1", *([] if backups else ["--no-backup"]))


def bad_release_untouched(backups):
    """Called by a test once it has asserted that its run changed nothing (state() before and after: versions and
    replicas, rows, env file, databases, lock): the next test's deploy_bad(backups) starts from this deploy."""
    del UNTOUCHED_BAD[:]
    UNTOUCHED_BAD.append(backups)


# The level 3 drill at -vvv, run once for the tests that read what it did (conftest.py's level3_drill).
DRILL_AWS_SECRET = "aws-secret-7c1e"
DRILL_WEBHOOK_TOKEN = "webhook-token-9f3b"
MAINTENANCE_TOKEN = "maint-token-5f0c1e"
STATUS_TOKEN = "status-token-9a7d22"


def maintenance_vars(maintenance_base, status_base):
    """Runbook 004's maintenance endpoint and status page, as extra vars (JSON), at these base URLs."""
    return json.dumps({
        "rollback_maintenance_endpoint": {"enable_url": maintenance_base + "/admin/maintenance/enable",
                                          "disable_url": maintenance_base + "/admin/maintenance/disable",
                                          "token": MAINTENANCE_TOKEN},
        "rollback_status_page": {"url": status_base + "/v1/pages/P1/incidents", "token": STATUS_TOKEN,
                                 "component": "demo-api"},
    })


class DrillRun:
    """The drill's run, what it was started from, and what it left outside the report (hook, log, timeline).

    It runs with runbook 004's maintenance endpoint and status page (one receiver for both, ``status_messages``):
    what a level 3 run does with them is read from this run rather than from a level 3 run of its own."""

    def __init__(self, lab, env, directory):
        from support.http_servers import webhook_receiver

        # A row written before the drill, which the drill's own backup (between its deploys of 1.0.0 and 1.0.1)
        # holds and an older backup would not: the restore is of that backup. The drill deploys the bad release
        # itself, so the module's end deploys 1.0.0 again should the drill stop half way (restore_good).
        DEPLOYED_BAD.append(True)
        with pg(lab) as connection, connection.cursor() as cursor:
            cursor.execute("INSERT INTO items (name) VALUES ('written-before-the-drill')")
        self.deploy_before = deploy_marker(lab, "demo-server")["deploy_id"]
        self.items_before = db_items(lab)
        hook, status = webhook_receiver(), webhook_receiver()
        self.log = os.path.join(directory, "ansible.log")
        self.timeline = os.path.join(directory, "timeline.json")
        env = dict(env, ROLLBACK_WEBHOOK_URL=hook.url + "/services/" + DRILL_WEBHOOK_TOKEN, ANSIBLE_LOG_PATH=self.log,
                   ROLLBACK_TIMELINE_FILE=self.timeline)
        try:
            self.run = run_playbook(env, "drill.yml", "-vvv", "-e", "level=3", "-e", "confirm_data_loss=true",
                                    "-e", "lab_aws_secret_key=" + DRILL_AWS_SECRET,
                                    "-e", maintenance_vars(status.url, status.url))
        finally:
            hook.stop()
            status.stop()
        self.hook_messages = hook.messages
        self.status_messages = status.messages


def restore_good(env):
    """Back to the lab's starting state (1.0.0 everywhere) once a test module is done with the bad release."""
    del UNTOUCHED_BAD[:]
    if DEPLOYED_BAD:
        labctl(env, "deploy", "1.0.0", "--no-backup")
        del DEPLOYED_BAD[:]


def restore_points(lab, deploy_id):
    """The restore points playbooks/backup.yml took for ``deploy_id``: their manifests by owner (service, database)."""
    manifests = os.path.join(lab["LAB_DIR"], "backups", "manifests")
    taken = {}
    for name in sorted(os.listdir(manifests)):
        with open(os.path.join(manifests, name)) as handle:
            manifest = json.load(handle)
        if manifest["deploy_id"] == deploy_id:
            taken[manifest["owner"]] = manifest
    return taken


def deploy_marker(lab, service):
    """The service's deploy marker (the lab's deploy carries on the deploy id of the restore points before it)."""
    with open(os.path.join(lab["LAB_DIR"], "deploys", service + ".json")) as handle:
        return json.load(handle)


def versions(env):
    return json.loads(labctl(env, "versions"))


def state(lab, env):
    """Everything a rollback may change, for before/after comparisons."""
    with open(os.path.join(lab["LAB_DIR"], "server", "shared", "app.env")) as handle:
        env_file = handle.read()
    return dict(versions=versions(env), items=db_items(lab), env_file=env_file, databases=databases(lab),
                lock=os.path.exists(lock_path(lab)))


def pg(lab, database="demo"):
    return psycopg2.connect(host=lab["LAB_PG_HOST"], port=lab["LAB_PG_PORT"], user=lab["LAB_PG_USER"],
                            password=lab["LAB_PG_PASSWORD"], dbname=database)


def db_items(lab, database="demo"):
    with pg(lab, database) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT name FROM items ORDER BY id")
        return [row[0] for row in cursor.fetchall()]


def databases(lab):
    with pg(lab, "postgres") as connection, connection.cursor() as cursor:
        cursor.execute("SELECT datname FROM pg_database ORDER BY datname")
        return [row[0] for row in cursor.fetchall()]


def lock_path(lab):
    return os.path.join(lab["LAB_DIR"], "locks", "lab.lock")


def reports(lab):
    return sorted(glob.glob(os.path.join(lab["LAB_DIR"], "reports", "*", "report.json")))


def ssh_logins(lab):
    """Key logins the lab's remote host (lab/labkit/sshd.py) has accepted so far."""
    try:
        with open(os.path.join(lab["LAB_DIR"], "sshd", "sshd.log")) as handle:
            return handle.read().count("Accepted publickey for root")
    except FileNotFoundError:
        return 0


def swarm_service(lab):
    """The swarm service's inspect dict, from the lab's engine."""
    import docker

    client = docker.DockerClient(base_url=lab["LAB_DOCKER_HOST"])
    try:
        return client.api.inspect_service(lab["LAB_SWARM_SERVICE"])
    finally:
        client.close()


def extra_inventory(tmp_path, hosts, group="rollback_services", name="extra.yml"):
    """A second inventory source giving ``hosts`` ({host: vars}) more variables (extra vars would reach every host)."""
    path = tmp_path / name
    path.write_text(json.dumps({"all": {"children": {group: {"hosts": hosts}}}}))
    return str(path)
