"""rollback.core.traffic: the lab's real Compose project, a real unit file (Kubernetes: test_traffic_kubernetes.py)."""

import json
import os
import time
import urllib.error
import urllib.request


def health(port):
    try:
        with urllib.request.urlopen("http://127.0.0.1:%s/health" % port, timeout=2) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return None


def test_compose_stop_and_start(ansible_module, lab, lab_env):
    args = dict(platform="compose", name="demo", project_src=lab["LAB_COMPOSE_DIR"], services=["web"])
    stopped = ansible_module("traffic", dict(args, state="stopped"))
    try:
        assert stopped.result["changed"], stopped.stdout
        assert health(lab["LAB_COMPOSE_PORT"]) is None
        assert not ansible_module("traffic", dict(args, state="stopped")).result["changed"]
    finally:
        started = ansible_module("traffic", dict(args, state="started"))
    assert started.result["changed"], started.stdout
    deadline = time.monotonic() + 20
    while health(lab["LAB_COMPOSE_PORT"]) is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert health(lab["LAB_COMPOSE_PORT"]) is not None


def test_compose_unknown_service_fails_before_any_change(ansible_module, lab):
    run = ansible_module("traffic", dict(platform="compose", name="demo", project_src=lab["LAB_COMPOSE_DIR"],
                                         services=["nope"], state="stopped"))
    assert run.failed and "service(s) nope not in compose project demo" in run.result["msg"]
    assert health(lab["LAB_COMPOSE_PORT"]) is not None


def test_server_maintenance_flag_and_units(ansible_module, lab, lab_env, tmp_path):
    env = {"PATH": lab["LAB_BIN"] + os.pathsep + lab_env["PATH"]}
    flag = str(tmp_path / "maintenance.json")
    args = dict(platform="server", name="demo", units=[lab["LAB_SERVER_UNIT"]], maintenance_file=flag,
                reason="database restore", wait_timeout=30, wait_sleep=0.2)
    stopped = ansible_module("traffic", dict(args, state="stopped"), env=env, diff=True)
    try:
        assert stopped.result["changed"], stopped.stdout
        with open(flag) as handle:
            assert json.load(handle)["reason"] == "database restore"
        assert health(lab["LAB_SERVER_PORT"]) is None
    finally:
        started = ansible_module("traffic", dict(args, state="started"), env=env)
    assert started.result["changed"], started.stdout
    assert not os.path.exists(flag)
    assert health(lab["LAB_SERVER_PORT"]) is not None
    assert not ansible_module("traffic", dict(args, state="started"), env=env).result["changed"]


def test_server_needs_a_flag_or_units(ansible_module):
    run = ansible_module("traffic", dict(platform="server", name="demo", state="stopped"))
    assert run.failed and "needs maintenance_file or units" in run.result["msg"]
