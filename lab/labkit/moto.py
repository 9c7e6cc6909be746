"""The moto server: the AWS API (RDS here) on loopback."""

import os

from labkit.common import read_pid, VENV_BIN, LabError, ensure_port_free, http_ok, spawn, stop_pid, wait_for

NAME = "moto"
PORT = 55000
ENDPOINT = "http://127.0.0.1:%d" % PORT


def facts(lab):
    return {
        "LAB_AWS_ENDPOINT": ENDPOINT,
        "LAB_AWS_REGION": "us-east-1",
        "LAB_AWS_ACCESS_KEY_ID": "testing",
        "LAB_AWS_SECRET_ACCESS_KEY": "testing",
    }


def is_up(lab):
    return http_ok(ENDPOINT + "/moto-api/")


def start(lab):
    if read_pid(lab.path("moto", "moto.pid")) and is_up(lab):
        return "already running"
    binary = os.path.join(VENV_BIN, "moto_server")
    if not os.path.exists(binary):
        raise LabError("%s not found: pip install 'moto[server]' (run ./dev bootstrap)" % binary)
    ensure_port_free(PORT, NAME)
    lab.makedirs("moto")
    log = lab.path("moto", "moto.log")
    spawn([binary, "-H", "127.0.0.1", "-p", str(PORT)], lab.path("moto", "moto.pid"), log)
    wait_for(lambda: is_up(lab), NAME, log)
    return "started"


def stop(lab):
    return "stopped" if stop_pid(lab.path("moto", "moto.pid")) else "not running"


def status(lab):
    return is_up(lab), ENDPOINT
