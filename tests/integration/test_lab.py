"""The lab's services are real: each one is used the way the modules will use it."""

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
import uuid

import boto3
import docker
import etcd3gw
import psycopg2
import pytest
from support.demo_images import demo_image
from support.http_servers import DemoApp, free_port

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LABCTL = os.path.join(REPO, "lab", "labctl.py")


def get_json(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_status_reports_every_service_up(lab_env):
    completed = subprocess.run([sys.executable, LABCTL, "status"], env=lab_env, capture_output=True, text=True,
                               check=False)
    assert completed.returncode == 0, completed.stdout
    for name in ("postgres", "etcd", "moto", "docker", "server", "kubernetes", "redis", "nginx", "sshd", "monitoring",
                 "users"):
        assert "lab: %-8s up" % name in completed.stdout


def test_postgres_row_written_and_read_back(lab):
    marker = "lab-" + uuid.uuid4().hex
    connection = psycopg2.connect(host=lab["LAB_PG_HOST"], port=lab["LAB_PG_PORT"], user=lab["LAB_PG_USER"],
                                  password=lab["LAB_PG_PASSWORD"], dbname=lab["LAB_PG_DATABASE"])
    try:
        with connection, connection.cursor() as cursor:
            cursor.execute("INSERT INTO items (name) VALUES (%s) RETURNING id", (marker,))
            row_id = cursor.fetchone()[0]
        with connection, connection.cursor() as cursor:
            cursor.execute("SELECT name FROM items WHERE id = %s", (row_id,))
            assert cursor.fetchone() == (marker,)
            cursor.execute("DELETE FROM items WHERE id = %s", (row_id,))
    finally:
        connection.close()


def test_postgres_refuses_a_wrong_password(lab):
    with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
        psycopg2.connect(host=lab["LAB_PG_HOST"], port=lab["LAB_PG_PORT"], user=lab["LAB_PG_USER"],
                         password="wrong", dbname="postgres")


def test_etcd_key_put_and_read_back_with_raised_txn_limit(lab):
    client = etcd3gw.client(host="127.0.0.1", port=int(lab["LAB_ETCD_ENDPOINT"].rsplit(":", 1)[1]))
    key = "/lab-test/%s" % uuid.uuid4().hex
    client.put(key, "value-1")
    try:
        assert client.get(key) == [b"value-1"] or client.get(key) == ["value-1"]
        puts = [{"request_put": {"key": etcd3gw.utils._encode("%s/%d" % (key, n)),
                                 "value": etcd3gw.utils._encode("v")}} for n in range(300)]
        response = client.transaction({"compare": [], "success": puts, "failure": []})
        assert response.get("succeeded") is True
    finally:
        client.delete_prefix(key)


def test_moto_rds_instance_and_snapshot(lab):
    rds = boto3.client("rds", endpoint_url=lab["LAB_AWS_ENDPOINT"], region_name=lab["LAB_AWS_REGION"],
                       aws_access_key_id=lab["LAB_AWS_ACCESS_KEY_ID"],
                       aws_secret_access_key=lab["LAB_AWS_SECRET_ACCESS_KEY"])
    instance = "lab-" + uuid.uuid4().hex[:8]
    rds.create_db_instance(DBInstanceIdentifier=instance, DBInstanceClass="db.t3.micro", Engine="postgres",
                           MasterUsername="app", MasterUserPassword="app-secret-1", AllocatedStorage=20)
    rds.create_db_snapshot(DBInstanceIdentifier=instance, DBSnapshotIdentifier=instance + "-snap")
    snapshots = rds.describe_db_snapshots(DBInstanceIdentifier=instance)["DBSnapshots"]
    assert {s["DBSnapshotIdentifier"]: s["Status"] for s in snapshots}[instance + "-snap"] == "available"
    rds.delete_db_instance(DBInstanceIdentifier=instance, SkipFinalSnapshot=True)


def running_image(client, lab):
    labels = ["com.docker.compose.project=%s" % lab["LAB_COMPOSE_PROJECT"],
              "com.docker.compose.service=%s" % lab["LAB_COMPOSE_SERVICE"]]
    containers = client.containers.list(filters={"label": labels})
    assert len(containers) == 1
    return containers[0].image.tags


def compose_up(lab_env, lab, tag):
    env = dict(lab_env, DEMO_TAG=tag)
    command = ["docker", "compose", "--project-directory", lab["LAB_COMPOSE_DIR"], "-p", lab["LAB_COMPOSE_PROJECT"],
               "up", "-d"]
    subprocess.run(command, env=env, check=True, capture_output=True)


def test_compose_service_switched_between_two_image_tags(lab, lab_env):
    client = docker.DockerClient(base_url=lab["DOCKER_HOST"])
    try:
        assert running_image(client, lab) == [demo_image("1.0.0")]
        compose_up(lab_env, lab, "1.0.1")
        assert running_image(client, lab) == [demo_image("1.0.1")]
    finally:
        compose_up(lab_env, lab, "1.0.0")
    assert running_image(client, lab) == [demo_image("1.0.0")]


def test_registry_holds_the_demo_releases_behind_htpasswd(lab):
    """The distribution registry answers the Registry API v2 over TLS, only to its htpasswd user."""
    import base64
    import ssl

    context = ssl.create_default_context(cafile=lab["LAB_REGISTRY_CERT"])

    def get(path, password):
        request = urllib.request.Request(lab["LAB_REGISTRY_URL"] + path)
        if password is not None:
            token = base64.b64encode(("%s:%s" % (lab["LAB_REGISTRY_USER"], password)).encode()).decode()
            request.add_header("Authorization", "Basic " + token)
        try:
            with urllib.request.urlopen(request, timeout=5, context=context) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, error.headers.get("WWW-Authenticate")

    assert get("/v2/", None) == (401, 'Basic realm="rollback-lab-registry"')
    assert get("/v2/", "wrong")[0] == 401
    name = lab["LAB_DEMO_IMAGE"].split("/", 1)[1]
    status, body = get("/v2/%s/tags/list" % name, lab["LAB_REGISTRY_PASSWORD"])
    assert status == 200 and {"1.0.0", "1.0.1", "1.0.2"} <= set(body["tags"])


def systemctl(lab, *args):
    return subprocess.run([lab["LAB_SYSTEMCTL"]] + list(args), capture_output=True, text=True, check=False)


def test_unit_stopped_and_started_via_systemctl(lab):
    unit = lab["LAB_SERVER_UNIT"]
    health = "http://127.0.0.1:%s/health" % lab["LAB_SERVER_PORT"]
    try:
        assert systemctl(lab, "stop", unit).returncode == 0
        assert systemctl(lab, "is-active", unit).stdout.strip() == "inactive"
        with pytest.raises(urllib.error.URLError):
            urllib.request.urlopen(health, timeout=2)
    finally:
        assert systemctl(lab, "start", unit).returncode == 0
    assert systemctl(lab, "is-active", unit).stdout.strip() == "active"
    assert get_json(health) == (200, {"status": "ok", "version": "1.0.0"})


@pytest.mark.parametrize("release,status,state", [("1.0.0", 200, "ok"), ("1.0.1", 503, "error"),
                                                  ("1.0.2", 200, "ok")])
def test_each_release_answers_health_json(release, status, state):
    app = DemoApp(release)  # on a port free now: a fixed one may be a client connection's (CI run of a405be0)
    try:
        assert get_json(app.url + "/health") == (status, {"status": state, "version": release})
    finally:
        app.stop()


def test_busybox_images_serve_the_same_contract(lab):
    client = docker.DockerClient(base_url=lab["DOCKER_HOST"])
    tags = {tag for image in client.images.list(name=lab["LAB_DEMO_IMAGE"]) for tag in image.tags}
    assert {demo_image("1.0.0"), demo_image("1.0.1"), demo_image("1.0.2")} <= tags
    port = free_port()
    container = client.containers.run(demo_image("1.0.1"), detach=True, network_mode="host",
                                      environment={"PORT": str(port)})
    try:
        for _attempt in range(50):
            try:
                assert get_json("http://127.0.0.1:%d/health" % port) == (503, {"status": "error", "version": "1.0.1"})
                break
            except urllib.error.URLError:
                subprocess.run(["sleep", "0.1"], check=False)
        else:
            pytest.fail("the 1.0.1 container never answered")
    finally:
        container.remove(force=True)


def test_start_refuses_a_taken_port_with_one_line(tmp_path):
    env = dict(os.environ, LAB_DIR=str(tmp_path / "lab"))
    completed = subprocess.run([sys.executable, LABCTL, "start", "--only", "etcd"], env=env, capture_output=True,
                               text=True, check=False)
    assert completed.returncode == 1
    assert completed.stderr.strip() == "lab: etcd: port 52379 (etcd) is already in use by another process"
    assert "Traceback" not in completed.stderr


def test_unknown_service_is_one_line(tmp_path):
    env = dict(os.environ, LAB_DIR=str(tmp_path / "lab"))
    completed = subprocess.run([sys.executable, LABCTL, "start", "--only", "memcached"], env=env, capture_output=True,
                               text=True, check=False)
    assert completed.returncode == 1
    assert completed.stderr.strip().startswith("lab: unknown service(s) memcached; choose from postgres")


def test_kubernetes_simulator_serves_the_demo_deployment(lab):
    from kubernetes import client, config

    api = client.AppsV1Api(config.new_client_from_config(config_file=lab["LAB_KUBECONFIG"]))
    deployment = api.read_namespaced_deployment(lab["LAB_KUBE_DEPLOYMENT"], lab["LAB_KUBE_NAMESPACE"])
    assert deployment.spec.template.spec.containers[0].image == demo_image("1.0.0")
    assert deployment.status.available_replicas == deployment.spec.replicas == 2
    owned = [rs for rs in api.list_namespaced_replica_set("default", label_selector="app=demo").items
             if rs.metadata.owner_references and rs.metadata.owner_references[0].uid == deployment.metadata.uid]
    revisions = sorted(int(rs.metadata.annotations["deployment.kubernetes.io/revision"]) for rs in owned)
    assert revisions and revisions[-1] == int(deployment.metadata.annotations["deployment.kubernetes.io/revision"])
    assert [rs.spec.replicas for rs in owned if rs.metadata.annotations["deployment.kubernetes.io/revision"]
            == str(revisions[-1])] == [2], "the current revision's ReplicaSet runs the replicas"


def ssh(lab, command, known_hosts=None, extra=()):
    return subprocess.run(["ssh", "-i", lab["LAB_SSH_KEY"], "-p", str(lab["LAB_SSH_PORT"]), "-o", "BatchMode=yes",
                           "-o", "UserKnownHostsFile=" + (known_hosts or lab["LAB_SSH_KNOWN_HOSTS"]),
                           "-o", "StrictHostKeyChecking=yes"] + list(extra)
                          + ["%s@%s" % (lab["LAB_SSH_USER"], lab["LAB_SSH_HOST"]), command],
                          capture_output=True, text=True, timeout=60, check=False)


def test_the_remote_host_runs_its_own_python_over_ssh_with_its_host_key_checked(lab, tmp_path):
    probe = "import sys, importlib.util as u; print(sys.prefix, u.find_spec('psycopg2') is not None, " \
            "u.find_spec('ansible') is not None)"
    completed = ssh(lab, "%s -c \"%s\"" % (lab["LAB_REMOTE_PYTHON"], probe))
    assert completed.returncode == 0, completed.stderr
    prefix, psycopg2, ansible = completed.stdout.split()
    assert prefix.endswith(".venv-remote") and psycopg2 == "True", "requirements.txt installed there"
    assert ansible == "False", "not the controller's venv: no ansible on the remote host"
    bare = ssh(lab, "%s -c \"import importlib.util as u; print(u.find_spec('psycopg2'))\"" % lab["LAB_BARE_PYTHON"])
    assert bare.stdout.strip() == "None", "Debian's own python3 is a bare server's"
    home = ssh(lab, 'echo "$HOME"').stdout.strip()
    assert home == os.path.join(os.path.dirname(lab["LAB_SSH_KEY"]), "home"), \
        "root's home is the host's own: the controller's dotfiles (its .bashrc) are not the remote host's"

    impostor = tmp_path / "known_hosts"
    impostor.write_text("[%s]:%s ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n"
                        % (lab["LAB_SSH_HOST"], lab["LAB_SSH_PORT"]))
    refused = ssh(lab, "true", known_hosts=str(impostor))
    assert refused.returncode != 0 and "REMOTE HOST IDENTIFICATION HAS CHANGED" in refused.stderr
    no_key = ssh(lab, "true", extra=("-o", "IdentitiesOnly=yes", "-o", "IdentityFile=/dev/null",
                                     "-o", "PreferredAuthentications=password"))
    assert no_key.returncode != 0, "no password login"


def test_the_lab_ports_are_kept_out_of_the_ephemeral_range():
    # They all lie in Linux's default ephemeral range (32768-60999): without the reservation a client connection may
    # hold one as its local port and the rulebook's webhook, started later, fails with EADDRINUSE.
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "lab"))
    import labctl
    from labkit.common import reserved_ports

    assert set(labctl.PORTS) <= reserved_ports() and 59500 in labctl.PORTS


def _labkit():
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "lab"))
    import labctl
    from labkit import common

    return labctl, common


def test_a_daemon_that_exits_before_it_is_ready_fails_at_once_with_the_end_of_its_log(tmp_path):
    _labctl, common = _labkit()
    log = tmp_path / "daemon.log"
    process = common.spawn(["sh", "-c", "echo 'opening storage failed: lock DB directory'; exit 3"],
                           str(tmp_path / "daemon.pid"), str(log))
    with pytest.raises(common.LabError) as raised:
        common.wait_for(lambda: False, "monitoring prometheus", str(log), timeout=30, process=process)
    message = str(raised.value)
    assert message.startswith("monitoring prometheus exited with 3 before it became ready")
    assert "opening storage failed: lock DB directory" in message, "the CI log shows why"


def test_a_timeout_names_the_newest_log_of_a_log_directory(tmp_path):
    _labctl, common = _labkit()
    (tmp_path / "old.log").write_text("old line\n")
    os.utime(tmp_path / "old.log", (1, 1))
    (tmp_path / "unit.log").write_text("\n".join("line %d" % number for number in range(40)) + "\n")
    with pytest.raises(common.LabError) as raised:
        common.wait_for(lambda: False, "rollback-demo.service", str(tmp_path), timeout=0.2)
    message = str(raised.value)
    assert "line 39" in message and "line 27" not in message and "old line" not in message


def test_a_failed_service_start_is_stopped_and_tried_once_more(capsys):
    labctl, common = _labkit()

    class Flaky:
        NAME = "flaky"
        calls = []

        def start(self, lab):
            self.calls.append("start")
            if self.calls.count("start") == 1:
                raise common.LabError("did not become ready within 60s")
            return "started"

        def stop(self, lab):
            self.calls.append("stop")
            return "stopped"

    flaky = Flaky()
    assert labctl._start_service(None, flaky) == "started"
    assert flaky.calls == ["start", "stop", "start"]
    assert "flaky    start failed (did not become ready within 60s); stopping it and trying once more" \
        in capsys.readouterr().out

    def broken(lab):
        raise common.LabError("exit 1")

    flaky.start = broken  # from now on every start fails
    with pytest.raises(common.LabError, match="^flaky: exit 1$"):
        labctl._start_service(None, flaky)


def _pgbackrest(lab, *args):
    return subprocess.run(["runuser", "-u", "postgres", "--", "pgbackrest", "--config=" + lab["LAB_PGBACKREST_CONFIG"],
                           "--stanza=" + lab["LAB_PGBACKREST_STANZA"]] + list(args),
                          capture_output=True, text=True, check=False)


def test_postgres_archives_its_wal_to_the_pgbackrest_repository_with_a_full_backup(lab):
    # pgbackrest check switches the WAL and waits for the segment in the repository (pgBackRest command reference,
    # "Check Command"): it fails when archive_command does not reach the repository.
    checked = _pgbackrest(lab, "check")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    info = json.loads(_pgbackrest(lab, "info", "--output=json").stdout)[0]
    assert info["status"]["code"] == 0 and "full" in [backup["type"] for backup in info["backup"]]
    assert os.path.isdir(os.path.join(lab["LAB_PGBACKREST_REPO"], "archive", lab["LAB_PGBACKREST_STANZA"]))


def test_a_running_postgres_without_archiving_is_restarted_with_it(lab):
    """A data directory started before the lab archived its WAL (archive_mode only changes with a restart)."""
    _labkit()
    from labkit import common, postgres

    lab_dir = common.Lab(lab["LAB_DIR"])
    postgres.stop(lab_dir)
    data = lab_dir.path("postgres", "data")
    common.run([os.path.join(lab["LAB_PG_BIN"], "pg_ctl"), "-D", data, "-l", lab_dir.path("postgres", "postgres.log"),
                "-o", "-p %s -k %s -c listen_addresses=127.0.0.1 -c max_prepared_transactions=10 -c wal_level=logical"
                % (lab["LAB_PG_PORT"], lab["LAB_PG_SOCKET_DIR"]), "-w", "start"], "pg_ctl start", user="postgres")
    try:
        assert not postgres._archiving(lab_dir)
    finally:
        # A start of the server takes a full backup: a point-in-time restore replays only this run's WAL.
        assert postgres.start(lab_dir) == "started, full backup"
    assert postgres._archiving(lab_dir)
