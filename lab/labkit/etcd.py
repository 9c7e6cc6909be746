"""etcd 3.4 from Debian, with a raised ops-per-transaction limit."""

from labkit.common import ensure_port_free, http_ok, read_pid, require_binary, spawn, stop_pid, wait_for

NAME = "etcd"
CLIENT_PORT = 52379
PEER_PORT = 52380
MAX_TXN_OPS = 20000
ENDPOINT = "http://127.0.0.1:%d" % CLIENT_PORT


def facts(lab):
    return {"LAB_ETCD_ENDPOINT": ENDPOINT, "LAB_ETCD_MAX_TXN_OPS": MAX_TXN_OPS}


def is_up(lab):
    return http_ok(ENDPOINT + "/health")


def start(lab):
    if read_pid(lab.path("etcd", "etcd.pid")) and is_up(lab):
        return "already running"
    binary = require_binary("etcd", "etcd-server")
    ensure_port_free(CLIENT_PORT, NAME)
    ensure_port_free(PEER_PORT, NAME + " peer")
    peer = "http://127.0.0.1:%d" % PEER_PORT
    lab.makedirs("etcd")
    argv = [binary, "--name", "lab", "--data-dir", lab.path("etcd", "data"),
            "--listen-client-urls", ENDPOINT, "--advertise-client-urls", ENDPOINT,
            "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
            "--initial-cluster", "lab=" + peer, "--max-txn-ops", str(MAX_TXN_OPS)]
    log = lab.path("etcd", "etcd.log")
    spawn(argv, lab.path("etcd", "etcd.pid"), log)
    wait_for(lambda: is_up(lab), NAME, log)
    return "started"


def stop(lab):
    return "stopped" if stop_pid(lab.path("etcd", "etcd.pid")) else "not running"


def status(lab):
    up = is_up(lab)
    return up, ENDPOINT + ("" if up or read_pid(lab.path("etcd", "etcd.pid")) is None else " (process up, not healthy)")
