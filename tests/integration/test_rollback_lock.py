"""rollback.core.rollback_lock: a file lock, and an etcd lock on the lab's real etcd."""

import json
import time
import uuid

import etcd3gw
import pytest


def lock_args(tmp_path, run_id, **extra):
    return dict(dict(name="production", run_id=run_id, owner="alice@laptop", info={"level": 3},
                     lock_dir=str(tmp_path / "locks")), **extra)


def test_file_lock_refuses_a_second_run_naming_the_holder(ansible_module, tmp_path):
    first = ansible_module("rollback_lock", lock_args(tmp_path, "run-1"))
    assert first.result["changed"] and first.result["holder"]["owner"] == "alice@laptop", first.stdout
    path = tmp_path / "locks" / "production.lock"
    held = path.read_text()
    second = ansible_module("rollback_lock", lock_args(tmp_path, "run-2", owner="bob@ci"))
    assert second.failed
    assert "alice@laptop (run run-1, level 3)" in second.result["msg"]
    assert path.read_text() == held, "the refused run changes nothing"
    assert not ansible_module("rollback_lock", lock_args(tmp_path, "run-1")).result["changed"], "re-take is a no-op"
    refused = ansible_module("rollback_lock", lock_args(tmp_path, "run-2", state="absent"))
    assert refused.failed and "held by another run" in refused.result["msg"] and path.exists()
    released = ansible_module("rollback_lock", lock_args(tmp_path, "run-1", state="absent"))
    assert released.result["changed"] and not path.exists()
    assert not ansible_module("rollback_lock", lock_args(tmp_path, "run-1", state="absent")).result["changed"]


def test_file_lock_check_mode_takes_nothing(ansible_module, tmp_path):
    run = ansible_module("rollback_lock", lock_args(tmp_path, "run-1"), check=True)
    assert run.result["changed"] and not (tmp_path / "locks" / "production.lock").exists()


def test_expired_file_lock_is_taken_over(ansible_module, tmp_path):
    (tmp_path / "locks").mkdir()
    old = dict(owner="dead@host", run_id="old", since="2020-01-01T00:00:00Z", expires="2020-01-01T01:00:00Z",
               expires_epoch=1577840400, info={})
    (tmp_path / "locks" / "production.lock").write_text(json.dumps(old))
    run = ansible_module("rollback_lock", lock_args(tmp_path, "run-1"))
    assert run.result["changed"] and run.result["took_over"]["run_id"] == "old", run.stdout
    assert json.loads((tmp_path / "locks" / "production.lock").read_text())["run_id"] == "run-1"


@pytest.mark.parametrize("extra,message", [
    (dict(name="a/b"), "must not contain /"),
    (dict(ttl=0), "ttl must be at least 1 second"),
    (dict(run_id=" "), "run_id must not be empty"),
    (dict(backend="zookeeper"), "value of backend must be one of"),
])
def test_bad_input(ansible_module, tmp_path, extra, message):
    run = ansible_module("rollback_lock", dict(lock_args(tmp_path, "run-1"), **extra))
    assert run.failed and message in run.result["msg"]
    assert not (tmp_path / "locks").exists()


def test_garbage_lock_file_is_not_overwritten(ansible_module, tmp_path):
    (tmp_path / "locks").mkdir()
    (tmp_path / "locks" / "production.lock").write_text("not json")
    run = ansible_module("rollback_lock", lock_args(tmp_path, "run-1"))
    assert run.failed and "not a rollback.core lock record" in run.result["msg"]
    assert (tmp_path / "locks" / "production.lock").read_text() == "not json"


def test_etcd_lock_is_exclusive_and_expires_with_its_lease(ansible_module, lab, tmp_path):
    name = "test-" + uuid.uuid4().hex[:8]
    args = dict(name=name, backend="etcd", endpoints=[lab["LAB_ETCD_ENDPOINT"]], ttl=6, owner="alice@awx-1")
    first = ansible_module("rollback_lock", dict(args, run_id="run-1"))
    assert first.result["changed"] and "/rollback-core/locks/" + name in first.result["lock"], first.stdout
    second = ansible_module("rollback_lock", dict(args, run_id="run-2"))
    assert second.failed and "alice@awx-1 (run run-1" in second.result["msg"]
    client = etcd3gw.client(host="127.0.0.1", port=int(lab["LAB_ETCD_ENDPOINT"].rsplit(":", 1)[1]))
    assert client.get("/rollback-core/locks/" + name), "the lock key exists"
    released = ansible_module("rollback_lock", dict(args, run_id="run-1", state="absent"))
    assert released.result["changed"] and not client.get("/rollback-core/locks/" + name)

    assert ansible_module("rollback_lock", dict(args, run_id="run-3")).result["changed"]
    time.sleep(7)  # the lease (ttl 6 s) ends: a dead run's lock goes by itself
    assert not client.get("/rollback-core/locks/" + name)
    assert ansible_module("rollback_lock", dict(args, run_id="run-4")).result["changed"]
    ansible_module("rollback_lock", dict(args, run_id="run-4", state="absent"))


def test_etcd_unreachable_is_one_clear_error(ansible_module):
    run = ansible_module("rollback_lock", dict(name="x", run_id="r", backend="etcd", endpoints=["http://127.0.0.1:1"],
                                               timeout=1))
    assert run.failed and run.result["msg"].startswith("no etcd endpoint answered")
