"""etcd_config_restore against the lab's real etcd (and a throwaway one at the default txn limit)."""

import base64
import json
import subprocess
import time
import urllib.request
import uuid

import etcd3gw
import pytest
from support.http_servers import free_ports

from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError
from ansible_collections.rollback.core.plugins.module_utils.etcd import EtcdStore

SECRET = "pw-" + uuid.uuid4().hex


def b64(text):
    return base64.b64encode(text.encode()).decode()


def client_for(endpoint):
    host, port = endpoint.rsplit("//", 1)[1].split(":")
    return etcd3gw.client(host=host, port=int(port))


def read_prefix(client, prefix):
    return dict((meta["key"].decode(), value.decode()) for value, meta in client.get_prefix(prefix))


@pytest.fixture
def prefix(lab):
    name = "/rb-test/%s/" % uuid.uuid4().hex[:8]
    yield name
    client_for(lab["LAB_ETCD_ENDPOINT"]).delete_prefix(name)


@pytest.fixture
def etcd(lab, prefix):
    client = client_for(lab["LAB_ETCD_ENDPOINT"])
    for key, value in {"a": "live-a", "b": "same", "stale": "x", "db/password": "live-" + SECRET}.items():
        client.put(prefix + key, value)
    return client


def write_backup(tmp_path, prefix, fmt):
    data = {prefix + "a": "backup-a", prefix + "b": "same", prefix + "c": "new", prefix + "db/password": SECRET}
    if fmt == "object":
        document = data
    elif fmt == "list":
        document = [{"key": k, "value": v} for k, v in data.items()]
    else:
        document = {"header": {"revision": 1}, "kvs": [{"key": b64(k), "value": b64(v)} for k, v in data.items()],
                    "count": len(data)}
    path = tmp_path / ("backup-%s.json" % fmt)
    path.write_text(json.dumps(document))
    return str(path), data


def args(lab, prefix, backup, **extra):
    base = dict(endpoints=[lab["LAB_ETCD_ENDPOINT"]], prefix=prefix, backup=backup, mask=["*/password"])
    base.update(extra)
    return base


@pytest.mark.parametrize("fmt", ["object", "list", "etcdctl"])
def test_each_format_restores_as_a_diff_and_saves_current_in_kind(ansible_module, lab, etcd, prefix, tmp_path, fmt):
    backup, data = write_backup(tmp_path, prefix, fmt)
    before = read_prefix(etcd, prefix)
    saved = tmp_path / "current.json"
    run = ansible_module("etcd_config_restore", args(lab, prefix, backup, save_current_to=str(saved)))
    assert not run.failed, run.stdout
    assert run.result["changed"] is True
    assert run.result["added"] == [prefix + "c"]
    assert run.result["updated"] == [prefix + "a", prefix + "db/password"]
    assert run.result["removed"] == []
    assert run.result["transactions"] == 1
    after = read_prefix(etcd, prefix)
    assert after == dict(data, **{prefix + "stale": "x"})
    from ansible_collections.rollback.core.plugins.module_utils.config_backup import parse_backup

    assert parse_backup(saved.read_text(), "saved") == (fmt, before)
    rerun = ansible_module("etcd_config_restore", args(lab, prefix, backup, save_current_to=str(saved)))
    assert rerun.result["changed"] is False and rerun.result["transactions"] == 0
    assert parse_backup(saved.read_text(), "saved") == (fmt, before), "a re-run must keep the pre-rollback save"


def test_prune_removes_keys_the_backup_lacks(ansible_module, lab, etcd, prefix, tmp_path):
    backup, data = write_backup(tmp_path, prefix, "object")
    run = ansible_module("etcd_config_restore", args(lab, prefix, backup, prune=True))
    assert run.result["removed"] == [prefix + "stale"]
    assert read_prefix(etcd, prefix) == data


def test_check_mode_changes_nothing_and_reports_the_plan(ansible_module, lab, etcd, prefix, tmp_path):
    backup, _data = write_backup(tmp_path, prefix, "object")
    before = read_prefix(etcd, prefix)
    run = ansible_module("etcd_config_restore", args(lab, prefix, backup, prune=True,
                                                     save_current_to=str(tmp_path / "s.json")), check=True)
    assert run.result["changed"] is True and run.result["removed"] == [prefix + "stale"]
    assert read_prefix(etcd, prefix) == before
    assert not (tmp_path / "s.json").exists()


def test_masked_secret_never_printed_even_at_vvv(ansible_module, lab, etcd, prefix, tmp_path):
    backup, _data = write_backup(tmp_path, prefix, "object")
    run = ansible_module("etcd_config_restore", args(lab, prefix, backup), diff=True, verbosity=3)
    assert not run.failed
    assert prefix + "db/password" in run.stdout
    assert SECRET not in run.stdout + run.stderr


@pytest.mark.parametrize("content,message", [
    ("{}", "holds no keys; refusing to restore an empty backup"),
    ("[]", "holds no keys"),
    ("{broken", "is not valid JSON"),
    ('{"/elsewhere/x": "1"}', "outside prefix"),
])
def test_bad_backup_fails_with_one_message_and_changes_nothing(
        ansible_module, lab, etcd, prefix, tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)
    before = read_prefix(etcd, prefix)
    run = ansible_module("etcd_config_restore", args(lab, prefix, str(path), prune=True))
    assert run.failed
    assert message in run.result["msg"]
    assert read_prefix(etcd, prefix) == before


def test_missing_backup_file_and_unreachable_endpoint(ansible_module, lab, etcd, prefix, tmp_path):
    run = ansible_module("etcd_config_restore", args(lab, prefix, str(tmp_path / "nope.json")))
    assert run.failed and "cannot read backup" in run.result["msg"]
    backup, _data = write_backup(tmp_path, prefix, "object")
    run = ansible_module("etcd_config_restore", dict(args(lab, prefix, backup), endpoints=["http://127.0.0.1:1"]))
    assert run.failed and run.result["msg"].startswith("no etcd endpoint answered: http://127.0.0.1:1")


def test_concurrent_write_between_read_and_apply_applies_nothing(lab, etcd, prefix):
    store = EtcdStore(dict(endpoints=[lab["LAB_ETCD_ENDPOINT"]], timeout=5))
    revision, _current = store.read_prefix(prefix)
    desired = {prefix + "a": "restored", prefix + "c": "new"}
    etcd.put(prefix + "unrelated-but-under-prefix", "concurrent")
    with pytest.raises(RollbackError, match="concurrent writer"):
        store.apply(prefix, revision, desired, [prefix + "c"], [prefix + "a"], [], None)
    state = read_prefix(etcd, prefix)
    assert state[prefix + "a"] == "live-a" and prefix + "c" not in state


@pytest.fixture(scope="module")
def small_etcd(tmp_path_factory):
    """A throwaway real etcd with the default --max-txn-ops (128)."""
    client_port, peer_port = free_ports(2)
    endpoint, peer = "http://127.0.0.1:%d" % client_port, "http://127.0.0.1:%d" % peer_port
    data = tmp_path_factory.mktemp("etcd-small")
    process = subprocess.Popen(["etcd", "--name", "small", "--data-dir", str(data / "d"),
                                "--listen-client-urls", endpoint, "--advertise-client-urls", endpoint,
                                "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
                                "--initial-cluster", "small=" + peer],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _attempt in range(100):
        try:
            urllib.request.urlopen(endpoint + "/health", timeout=1)
            break
        except OSError:
            time.sleep(0.1)
    yield endpoint
    process.terminate()
    process.wait()


def test_past_the_txn_limit_atomic_fails_clearly_and_chunked_applies(ansible_module, small_etcd, tmp_path):
    prefix = "/big/"
    backup = tmp_path / "big.json"
    backup.write_text(json.dumps(dict(("/big/k%04d" % n, "v%d" % n) for n in range(300))))
    run = ansible_module("etcd_config_restore", dict(endpoints=[small_etcd], prefix=prefix, backup=str(backup)))
    assert run.failed
    assert "raise --max-txn-ops (default 128) to at least 300" in run.result["msg"]
    assert read_prefix(client_for(small_etcd), prefix) == {}
    run = ansible_module("etcd_config_restore", dict(endpoints=[small_etcd], prefix=prefix, backup=str(backup),
                                                     atomic=False))
    assert not run.failed, run.stdout
    assert run.result["transactions"] == 3
    assert "applied in 3 transactions of at most 128 operations (atomic: false)" in run.stdout + run.stderr
    assert len(read_prefix(client_for(small_etcd), prefix)) == 300
