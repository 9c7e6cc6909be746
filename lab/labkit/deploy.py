"""labctl.py deploy VERSION: what a team's deploy pipeline does to the lab, for drills and tests.

Like the runbooks' deploys it first takes the pre-deploy restore points a
rollback restores, with the collection's own playbooks/backup.yml on
inventories/lab (database dump, RDS snapshot, etcd keys, ConfigMap, env file,
deploy markers; --no-backup skips it, as the drill does: it runs backup.yml
itself), then deploys the version on every target: the Kubernetes
Deployment's image (a new revision), the compose project's DEMO_TAG, the
swarm service's image, the server's current release. Config carries the
version too; 1.0.1 also runs a "migration" (a column and a row), so a level 3
rollback has data to lose and a level 1 rollback leaves it in place.
"""

import base64
import concurrent.futures
import json
import os
import subprocess
import time
import uuid
import urllib.error
import urllib.request

from labkit import docker, etcd, kubernetes, moto, nginx, postgres, server
from labkit.common import REPO, VENV_BIN, LabError, run, wait_for

ETCD_PREFIX = "/demo/config/"
CONFIGMAP = "demo-config"
MIGRATIONS = {"1.0.1": "ALTER TABLE items ADD COLUMN IF NOT EXISTS flagged boolean; "
                       "INSERT INTO items (name, flagged) VALUES ('written-by-1.0.1', true);"}
VERSIONS = ("1.0.0", "1.0.1", "1.0.2")


def paths(lab):
    return {
        "LAB_BACKUP_DIR": lab.path("backups"),
        "LAB_DB_BACKUP_DIR": lab.path("backups", "db"),
        "LAB_ETCD_BACKUP_DIR": lab.path("backups", "etcd"),
        "LAB_ETCD_PREFIX": ETCD_PREFIX,
        "LAB_K8S_BACKUP_DIR": lab.path("backups", "kubernetes"),
        "LAB_K8S_CONFIGMAP": CONFIGMAP,
        "LAB_SERVER_ENV_FILE": lab.path("server", "shared", "app.env"),
        "LAB_SERVER_MAINTENANCE_FILE": lab.path("server", "shared", "maintenance.json"),
        "LAB_RDS_INSTANCE": RDS_INSTANCE,
        "LAB_DEPLOY_MARKER_DIR": lab.path("deploys"),
    }


def config_for(version):
    return {"version": version, "feature_new_checkout": "on" if version != "1.0.0" else "off",
            "timeout_ms": "2000" if version == "1.0.0" else "500"}


def _b64(text):
    return base64.b64encode(text.encode()).decode()


def _etcd(path, payload):
    request = urllib.request.Request(etcd.ENDPOINT + "/v3" + path, data=json.dumps(payload).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.load(response)


def _etcd_read(prefix):
    end = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    items = _etcd("/kv/range", {"key": _b64(prefix), "range_end": _b64(end)}).get("kvs", [])
    return dict((base64.b64decode(i["key"]).decode(), base64.b64decode(i.get("value", "")).decode()) for i in items)


def _kube(method, path, body=None, content_type="application/merge-patch+json"):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(kubernetes.HOST + path, data=data, method=method,
                                     headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return json.load(response)
    except urllib.error.HTTPError as error:
        if error.code == 404:
            return None
        raise LabError("kubernetes %s %s: %s" % (method, path, error.read().decode()[:200]))


CM_PATH = "/api/v1/namespaces/default/configmaps"


def _stamp():
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-%06d" % (time.time() % 1 * 1e6)


# The directories of inventories/lab's backups: the backup playbook creates its own, the rollback's
# ``save_current_to`` (pre-rollback) needs its directory to exist. 0700: they hold Secrets and dumps.
BACKUP_DIRS = ("db", "etcd", "kubernetes", "manifests", "pre-rollback")


def make_backup_dirs(lab):
    """``lab start`` and each deploy: the backup directories inventories/lab names, so a backup or rollback finds
    them."""
    os.chmod(lab.makedirs("backups"), 0o755)
    for name in BACKUP_DIRS:
        os.chmod(lab.makedirs("backups", name), 0o700)


RDS_INSTANCE = "demo-db"


def _rds():
    import boto3  # the venv's; labctl runs there
    return boto3.client("rds", endpoint_url=moto.ENDPOINT, region_name="us-east-1", aws_access_key_id="testing",
                        aws_secret_access_key="testing")


def ensure_rds_instance():
    """The lab's RDS instance in moto, created when missing: the backup playbook snapshots it (demo-rds)."""
    rds = _rds()
    try:
        rds.describe_db_instances(DBInstanceIdentifier=RDS_INSTANCE)
    except rds.exceptions.DBInstanceNotFoundFault:
        rds.create_db_instance(DBInstanceIdentifier=RDS_INSTANCE, DBInstanceClass="db.t3.micro", Engine="postgres",
                               AllocatedStorage=20, MasterUsername="demo", MasterUserPassword="lab-rds-secret")


def _playbook_env(lab):
    """The environment ./dev and the tests give ansible-playbook: the lab's facts (lab.json), the venv first."""
    env = dict(os.environ)
    try:
        with open(lab.path("lab.json")) as handle:
            env.update((key, str(value)) for key, value in json.load(handle).items())
    except (OSError, ValueError) as error:
        raise LabError("cannot read the lab's facts %s (is the lab started?): %s" % (lab.path("lab.json"), error))
    env.update(LAB_DIR=lab.root, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"),
               PATH=os.pathsep.join([VENV_BIN, env.get("PATH", "")]))
    return env


def take_restore_points(lab, version, deploy_id):
    """The pre-deploy restore points of every service and database of inventories/lab, taken by the collection's
    playbooks/backup.yml as a deploy pipeline takes them; returns the restore point ids (owner -> id)."""
    ensure_rds_instance()
    command = [os.path.join(VENV_BIN, "ansible-playbook"), os.path.join(REPO, "playbooks", "backup.yml"),
               "-i", os.path.join(REPO, "inventories", "lab"), "-e", "deploy_id=" + deploy_id,
               "-e", "version=" + version]
    completed = subprocess.run(command, cwd=REPO, env=_playbook_env(lab), capture_output=True, text=True,
                               stdin=subprocess.DEVNULL, check=False)
    if completed.returncode != 0:
        output = (completed.stdout + completed.stderr).splitlines()
        failures = [line for line in output if line.startswith(("fatal:", "ERROR!")) or "msg:" in line]
        raise LabError("playbooks/backup.yml failed (exit %d), nothing deployed:\n%s" % (
            completed.returncode, "\n".join(failures or output[-20:])))
    manifests = lab.path("backups", "manifests")
    taken = {}
    for name in sorted(os.listdir(manifests)):
        with open(os.path.join(manifests, name)) as handle:
            manifest = json.load(handle)
        if manifest.get("deploy_id") == deploy_id:
            taken[manifest["owner"]] = manifest["restore_point"]
    return taken


def apply_config(lab, version):
    values = config_for(version)
    _etcd("/kv/txn", {"success": [{"request_put": {"key": _b64(ETCD_PREFIX + k), "value": _b64(v)}}
                                  for k, v in values.items()]})
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": CONFIGMAP, "namespace": "default"},
            "data": values}
    if _kube("GET", CM_PATH + "/" + CONFIGMAP) is None:
        _kube("POST", CM_PATH, body, "application/json")
    else:
        _kube("PUT", CM_PATH + "/" + CONFIGMAP, body, "application/json")
    env_file = paths(lab)["LAB_SERVER_ENV_FILE"]
    os.makedirs(os.path.dirname(env_file), exist_ok=True)
    with open(env_file + ".tmp", "w") as handle:
        handle.write("".join("APP_%s=%s\n" % (k.upper(), v) for k, v in sorted(values.items())))
        handle.write("APP_DB_PASSWORD=%s\n" % postgres.PASSWORD)
    os.rename(env_file + ".tmp", env_file)


def migrate(version):
    sql = MIGRATIONS.get(version)
    if sql:
        env = dict(os.environ, PGPASSWORD=postgres.PASSWORD)
        run([os.path.join(postgres.pg_bin(), "psql"), "-h", "127.0.0.1", "-p", str(postgres.PORT), "-U",
             postgres.USER, "-d", "demo", "-v", "ON_ERROR_STOP=1", "-qc", sql], "migration of " + version, env)


def deploy_kubernetes(version):
    path = "/apis/apps/v1/namespaces/default/deployments/demo"
    _kube("PATCH", path, {"spec": {"replicas": 2, "template": {"spec": {"containers": [
        {"name": "web", "image": "%s:%s" % (docker.IMAGE, version), "ports": [{"containerPort": 8080}]}]}}}})


def deploy_compose(lab, version):
    """The pipeline of a compose team: the tag in the project's .env, ``docker compose up -d``, the history line."""
    with open(lab.path("compose", "demo", ".env"), "w") as handle:
        handle.write("DEMO_TAG=%s\n" % version)
    docker.compose_up(lab, "demo %s" % version)


def deploy_server(lab, version):
    current = lab.path("server", "current")
    target = lab.path("server", "releases", "v" + version)
    if not os.path.isdir(target):
        raise LabError("no server release %s" % target)
    flag = paths(lab)["LAB_SERVER_MAINTENANCE_FILE"]
    if (not os.path.exists(flag) and os.path.realpath(current) == os.path.realpath(target)
            and server._release_health(lab) == version):
        return  # already serving it: like the Swarm service, a deploy of the running release restarts nothing
    if os.path.exists(flag):
        os.remove(flag)
    os.symlink(target, current + ".new")
    os.replace(current + ".new", current)
    server._systemctl(lab, "restart", server.UNIT)
    wait_for(lambda: server._release_health(lab) == version, server.UNIT + " " + version,
             lab.path("systemd-root", "var", "log"), timeout=30)


def _iso(epoch):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch)) + ".%03dZ" % (epoch % 1 * 1000)


class Markers:
    """The deploy markers of one deploy: one JSON file per inventory host, replaced atomically."""

    def __init__(self, lab, version, services, deploy_id):
        self.dir = lab.makedirs("deploys")
        self.started = time.time()
        self.base = {"deploy_id": deploy_id, "version": version,
                     "deployed_by": "labctl deploy", "services": list(services), "started_at": _iso(self.started)}
        current = dict((service, self._read(service) or {}) for service in services)
        # A pipeline's `playbooks/backup.yml` starts the deploy (its marker, in progress): this deploy carries it on.
        started = [m for m in current.values() if m.get("status") == "in_progress"
                   and m.get("deployed_by") == "rollback.core.backup"]
        if started:
            self.base["deploy_id"] = started[0]["deploy_id"]
        self.previous = dict((service, m.get("previous_version") if m in started else m.get("version"))
                             for service, m in current.items())

    def _path(self, service):
        return os.path.join(self.dir, service + ".json")

    def _read(self, service):
        try:
            with open(self._path(service)) as handle:
                return json.load(handle)
        except (OSError, ValueError):
            return None

    def write(self, service, status):
        marker = dict(self.base, service=service, status=status, previous_version=self.previous.get(service),
                      finished_at=_iso(time.time()) if status != "in_progress" else None)
        with open(self._path(service) + ".tmp", "w") as handle:
            json.dump(marker, handle, indent=2, sort_keys=True)
        os.rename(self._path(service) + ".tmp", self._path(service))


def _deploy_in_parallel(steps, markers, pending):
    """Each service's pipeline at once, as independent teams' pipelines run (the Swarm update's stop-first and
    monitor and the server's restart no longer add up); the first failure is raised once all have ended."""
    def one(service, step):
        step()
        markers.write(service, "done")
        pending.remove(service)

    with concurrent.futures.ThreadPoolExecutor(max_workers=len(steps)) as pool:
        futures = [pool.submit(one, service, step) for service, step in steps]
    for future in futures:
        future.result()


def deploy(lab, version, backups=True):
    if version not in VERSIONS:
        raise LabError("unknown version %s; the lab has %s" % (version, ", ".join(VERSIONS)))
    make_backup_dirs(lab)  # as at start: a test or an operator may have removed one (pre-rollback)
    deploy_id = "lab-%s-%s" % (_stamp(), uuid.uuid4().hex[:6])
    taken = {}
    if backups and not os.path.exists(paths(lab)["LAB_SERVER_ENV_FILE"]):
        print("lab: no restore point before the first deploy (no configuration deployed yet)")
    elif backups:
        taken = take_restore_points(lab, version, deploy_id)
    # Inventory host (inventories/lab) -> how the lab deploys it.
    steps = [("demo-kubernetes", lambda: deploy_kubernetes(version)),
             ("demo-compose", lambda: deploy_compose(lab, version)),
             ("demo-swarm", lambda: docker.deploy_swarm(lab, version)),
             ("demo-server", lambda: deploy_server(lab, version)),
             # Blue/green behind nginx: blue serves 1.0.0, green the newer release.
             ("demo-bluegreen", lambda: nginx.select(lab, "blue" if version == "1.0.0" else "green"))]
    markers = Markers(lab, version, [service for service, _step in steps], deploy_id)
    for service, _step in steps:
        markers.write(service, "in_progress")
    pending = [service for service, _step in steps]
    try:
        apply_config(lab, version)
        migrate(version)
        _deploy_in_parallel(steps, markers, pending)
    finally:
        for service in pending:
            markers.write(service, "failed")
    for owner, restore_point in sorted(taken.items()):
        print("lab: restore point %-16s %s (playbooks/backup.yml)" % (owner, restore_point))
    print("lab: deployed %s (kubernetes, compose, swarm, server, nginx blue/green, config%s)"
          % (version, ", migration" if version in MIGRATIONS else ""))
    return 0


def versions(lab):
    """What runs where, as JSON: for drills and tests to assert on."""
    deployment = _kube("GET", "/apis/apps/v1/namespaces/default/deployments/demo") or {}
    containers = deployment.get("spec", {}).get("template", {}).get("spec", {}).get("containers", [{}])
    completed = subprocess.run([os.path.join(VENV_BIN, "docker-compose"), "--project-directory",
                                lab.path("compose", "demo"), "-p", "demo", "images", "--format", "json"],
                               capture_output=True, text=True, env=docker._env(lab), check=False)
    try:
        compose_tags = sorted(set(i.get("Tag") for i in json.loads(completed.stdout or "[]")))
    except ValueError:
        compose_tags = []
    return {
        "kubernetes": containers[0].get("image", "").rpartition(":")[2],
        "kubernetes_replicas": deployment.get("spec", {}).get("replicas"),
        "compose": ",".join(compose_tags),
        "swarm": docker.swarm_version(lab),
        "server": server._release_health(lab),
        "bluegreen": (nginx.served(lab)[1] or {}).get("version") if nginx.is_up(lab) else None,
        "config": _etcd_read(ETCD_PREFIX).get(ETCD_PREFIX + "version"),
    }
