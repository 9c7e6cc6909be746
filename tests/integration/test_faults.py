"""Injected faults against the lab's real services: nothing is lost, the result says what changed, and a
re-run after the fault clears completes.

- etcd killed (SIGKILL) while a config restore's transaction is in flight
- PostgreSQL restarted while a dump is being restored into the side database
- the Docker engine stopped in the middle of a Compose rollback
- a Kubernetes rollout that never becomes ready
- a smoke check that flaps
The playbook-level fault (a phase failing mid-level-3, with the incident report) is in test_playbook_rollback.py.
"""

import json
import os
import re
import signal
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler

import docker
import etcd3gw
import psycopg2
import pytest
import yaml
from playbook_runs import PYTHON, REPO, deploy_bad
from support.demo_images import demo_image
from support.http_servers import _Background
from support.kube import DEPLOYMENT, Simulator


def module_command(name, args, lab_env):
    command = [os.path.join(REPO, ".venv", "bin", "ansible"), "localhost", "-c", "local", "-i", "localhost,", "-m",
               "rollback.core." + name, "-a", json.dumps(args), "-e", "ansible_python_interpreter=" + PYTHON]
    env = dict(lab_env, ANSIBLE_STDOUT_CALLBACK="minimal", ANSIBLE_CALLBACK_RESULT_FORMAT="json")
    return subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def result_of(process, timeout=300):
    output = process.communicate(timeout=timeout)[0]
    match = re.search(r"^localhost \| [A-Z!]+ => ", output, re.MULTILINE)
    result = json.JSONDecoder().raw_decode(output, match.end())[0] if match else {}
    result["failed"] = process.returncode != 0  # the minimal callback drops the key
    return result, output


def wait_until(check, timeout=60, step=0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(step)
    return False


def labctl(lab_env, *args):
    subprocess.run([PYTHON, os.path.join(REPO, "lab", "labctl.py")] + list(args), cwd=REPO, env=lab_env, check=True,
                   capture_output=True, timeout=300)


# etcd ----------------------------------------------------------------------------------------------------------

def test_etcd_killed_during_a_config_restore(lab, lab_env, tmp_path):
    etcd = etcd3gw.client(host="127.0.0.1", port=int(lab["LAB_ETCD_ENDPOINT"].rsplit(":", 1)[1]))
    prefix = "/fault-etcd/"
    old = dict(("%skey-%05d" % (prefix, n), "old-%d" % n) for n in range(8000))
    new = dict((key, value.replace("old", "new")) for key, value in old.items())
    for start in range(0, len(old), 1000):
        etcd.transaction({"compare": [], "success": [{"request_put": {"key": _b64(k), "value": _b64(v)}}
                                                     for k, v in list(old.items())[start:start + 1000]],
                          "failure": []})
    backup, saved = tmp_path / "backup.json", tmp_path / "saved.json"
    backup.write_text(json.dumps(new))
    process = module_command("etcd_config_restore", dict(prefix=prefix, backup=str(backup), save_current_to=str(saved),
                                                         endpoints=[lab["LAB_ETCD_ENDPOINT"]]), lab_env)
    try:
        assert wait_until(saved.exists), "the module never saved the current state"
        with open(os.path.join(lab["LAB_DIR"], "etcd", "etcd.pid")) as handle:
            os.kill(int(handle.read().strip()), signal.SIGKILL)
        result, output = result_of(process)
    finally:
        labctl(lab_env, "start", "--only", "etcd")
    try:
        values = dict((meta["key"].decode(), value.decode()) for value, meta in etcd.get_prefix(prefix))
        if result.get("failed"):
            assert "etcd" in result["msg"] and "\n" not in result["msg"].strip(), output
            assert values in (old, new), "one transaction: all old or all new, never a mix"
        else:
            assert values == new, output  # etcd committed before it died
        assert json.loads(saved.read_text()) == old, "the state before is saved, so it stays restorable"
        rerun, output = result_of(module_command("etcd_config_restore", dict(
            prefix=prefix, backup=str(backup), endpoints=[lab["LAB_ETCD_ENDPOINT"]]), lab_env))
        assert not rerun.get("failed"), output
        assert dict((meta["key"].decode(), value.decode()) for value, meta in etcd.get_prefix(prefix)) == new
    finally:
        etcd.delete_prefix(prefix)


def _b64(text):
    import base64

    return base64.b64encode(text.encode()).decode()


# PostgreSQL ----------------------------------------------------------------------------------------------------

@pytest.fixture
def big_database(lab):
    admin = psycopg2.connect(host=lab["LAB_PG_HOST"], port=lab["LAB_PG_PORT"], user=lab["LAB_PG_USER"],
                             password=lab["LAB_PG_PASSWORD"], dbname="postgres")
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute("DROP DATABASE IF EXISTS fault_pg WITH (FORCE)")
        cursor.execute("CREATE DATABASE fault_pg")
    admin.close()
    with psycopg2.connect(host=lab["LAB_PG_HOST"], port=lab["LAB_PG_PORT"], user=lab["LAB_PG_USER"],
                          password=lab["LAB_PG_PASSWORD"], dbname="fault_pg") as connection:
        with connection.cursor() as cursor:
            cursor.execute("CREATE TABLE t AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 600000) g")
    dump = os.path.join(lab["LAB_DIR"], "fault_pg.dump")
    subprocess.run([os.path.join(lab["LAB_PG_BIN"], "pg_dump"), "-Fc", "-Z0", "-h", lab["LAB_PG_HOST"], "-p",
                    str(lab["LAB_PG_PORT"]), "-U", lab["LAB_PG_USER"], "-d", "fault_pg", "-f", dump],
                   env=dict(os.environ, PGPASSWORD=lab["LAB_PG_PASSWORD"]), check=True)
    with psycopg2.connect(host=lab["LAB_PG_HOST"], port=lab["LAB_PG_PORT"], user=lab["LAB_PG_USER"],
                          password=lab["LAB_PG_PASSWORD"], dbname="fault_pg") as connection:
        with connection.cursor() as cursor:
            cursor.execute("INSERT INTO t VALUES (0, 'written after the dump')")
    yield dump
    admin = psycopg2.connect(host=lab["LAB_PG_HOST"], port=lab["LAB_PG_PORT"], user=lab["LAB_PG_USER"],
                             password=lab["LAB_PG_PASSWORD"], dbname="postgres")
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute("SELECT datname FROM pg_database WHERE datname LIKE 'fault_pg%'")
        for (name,) in cursor.fetchall():
            cursor.execute('DROP DATABASE "%s" WITH (FORCE)' % name)
    admin.close()
    os.remove(dump)


def pg_databases(lab):
    try:
        with psycopg2.connect(host=lab["LAB_PG_HOST"], port=lab["LAB_PG_PORT"], user=lab["LAB_PG_USER"],
                              password=lab["LAB_PG_PASSWORD"], dbname="postgres", connect_timeout=2) as connection:
            with connection.cursor() as cursor:
                cursor.execute("SELECT datname FROM pg_database")
                return [row[0] for row in cursor.fetchall()]
    except psycopg2.OperationalError:
        return []


def test_postgres_restarted_during_a_restore(lab, lab_env, big_database, tmp_path):
    args = dict(db="fault_pg", dump=big_database, login_host=lab["LAB_PG_HOST"], login_port=int(lab["LAB_PG_PORT"]),
                login_user=lab["LAB_PG_USER"], login_password=lab["LAB_PG_PASSWORD"], pg_bin_dir=lab["LAB_PG_BIN"],
                emergency_backup_dir=str(tmp_path / "emergency"))
    process = module_command("postgres_restore", args, lab_env)
    try:
        assert wait_until(lambda: any(d.startswith("fault_pg_rb_") for d in pg_databases(lab)), step=0.1)
        labctl(lab_env, "stop", "--only", "postgres")
        result, output = result_of(process)
    finally:
        labctl(lab_env, "start", "--only", "postgres")
    assert result.get("failed"), output
    assert "\n" not in result["msg"].strip() and "fault_pg" in result["msg"], result["msg"]
    with psycopg2.connect(host=lab["LAB_PG_HOST"], port=lab["LAB_PG_PORT"], user=lab["LAB_PG_USER"],
                          password=lab["LAB_PG_PASSWORD"], dbname="fault_pg") as connection:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*), count(*) FILTER (WHERE id = 0) FROM t")
            assert cursor.fetchone() == (600001, 1), "the live database is untouched, with the later write"
    emergency = result.get("emergency_backup")
    assert emergency and os.path.exists(emergency), "the emergency dump survives"
    listed = subprocess.run([os.path.join(lab["LAB_PG_BIN"], "pg_restore"), "-l", emergency], capture_output=True,
                            check=False)
    assert listed.returncode == 0, "and can be restored"

    rerun, output = result_of(module_command("postgres_restore", args, lab_env))
    assert not rerun.get("failed") and rerun["changed"], output
    assert rerun["previous_db"] in pg_databases(lab), "the replaced database is kept"


# Docker --------------------------------------------------------------------------------------------------------

def test_docker_engine_stopped_mid_compose_rollback(lab, lab_env):
    deploy_bad(lab_env, backups=False)
    args = dict(platform="compose", name="demo", project_src=lab["LAB_COMPOSE_DIR"], wait_timeout=60)
    process = module_command("rollout_undo", args, lab_env)
    try:
        time.sleep(1.5)
        labctl(lab_env, "stop", "--only", "docker")
        result, output = result_of(process)
    finally:
        labctl(lab_env, "start", "--only", "docker")
    if result.get("failed"):
        assert "\n" not in result["msg"].strip(), result["msg"]
        assert "docker" in result["msg"].lower() or "compose" in result["msg"].lower(), result["msg"]
    client = docker.DockerClient(base_url=lab["DOCKER_HOST"])
    tags = set(tag for image in client.images.list(lab["LAB_DEMO_IMAGE"]) for tag in image.tags)
    assert {demo_image("1.0.0"), demo_image("1.0.1")} <= tags, "no release is lost"
    rerun, output = result_of(module_command("rollout_undo", dict(args, to_version="1.0.0"), lab_env))
    assert not rerun.get("failed"), output
    running = [c.attrs["Config"]["Image"] for c in client.containers.list(
        filters={"label": "com.docker.compose.project=demo"})]
    assert running == [demo_image("1.0.0")]


# Kubernetes ----------------------------------------------------------------------------------------------------

def test_a_rollout_that_never_becomes_ready(lab_env, tmp_path):
    sim = Simulator(tmp_path, "never")
    try:
        sim.kubectl("create", "--validate=false", "-f", "-", stdin=yaml.safe_dump(DEPLOYMENT))
        sim.kubectl("set", "image", "deployment/demo", "web=rollback-demo:never-ready")
        sim.kubectl("set", "image", "deployment/demo", "web=rollback-demo:1.0.1")
        args = dict(platform="kubernetes", name="demo", kubeconfig=sim.kubeconfig, wait_timeout=3, wait_sleep=0.2)
        result, output = result_of(module_command("rollout_undo", args, lab_env))
        assert result.get("failed"), output
        assert result["msg"].startswith("timed out after 3s waiting for the rollout of deployment default/demo")
        # kubectl rollout status's words for the stuck state, then why: the surged pod never gets ready.
        assert "new replicas have been updated" in result["msg"], "the stuck state is named"
        assert "running but not ready" in result["msg"], "and the reason"
        assert sim.image() == "rollback-demo:never-ready", "what changed: the template points at revision 2"
        rerun, output = result_of(module_command("rollout_undo", dict(args, to_revision=1), lab_env))
        assert not rerun.get("failed") and sim.image() == "rollback-demo:1.0.0", output
    finally:
        sim.stop()


# Smoke checks --------------------------------------------------------------------------------------------------

def flapping_server():
    state = {"count": 0, "flapping": True, "lock": threading.Lock()}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            with state["lock"]:
                state["count"] += 1
                healthy = not state["flapping"] or state["count"] % 2 == 0
            body = json.dumps({"status": "ok" if healthy else "error"}).encode()
            self.send_response(200 if healthy else 503)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = _Background(Handler)
    server.state = state
    return server


def test_a_flapping_smoke_check_fails_and_passes_once_stable(lab_env):
    server = flapping_server()
    try:
        args = dict(checks=[dict(name="flappy", url=server.url + "/health")], rounds=6, interval=0.05,
                    consecutive_successes=3, max_failures=2)
        result, output = result_of(module_command("smoke_check", args, lab_env))
        assert result.get("failed") and "flappy" in result["msg"], output
        assert result["failed_checks"] == ["flappy"]
        decision, output = result_of(module_command("rollback_decision", dict(smoke=result), lab_env))
        assert decision["action"] != "MONITOR", "a flapping service is not a verified rollback"
        server.state["flapping"] = False
        rerun, output = result_of(module_command("smoke_check", args, lab_env))
        assert not rerun.get("failed") and rerun["passed"], output
    finally:
        server.stop()
