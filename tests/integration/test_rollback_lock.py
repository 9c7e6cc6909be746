"""rollback.core.rollback_lock: a file lock, and an etcd lock on the lab's real etcd, run through pytest-ansible
(``controller``); check mode through the ansible command line (``ansible_module``)."""

import json
import time
import uuid

import etcd3gw
import pytest


def lock_args(tmp_path, run_id, **extra):
    return dict(dict(name="production", run_id=run_id, owner="alice@laptop", info={"level": 3},
                     lock_dir=str(tmp_path / "locks")), **extra)


def test_file_lock_refuses_a_second_run_naming_the_holder(controller, tmp_path):
    first = controller.rollback_lock(**lock_args(tmp_path, "run-1"))
    assert first.is_changed and first["holder"]["owner"] == "alice@laptop", dict(first)
    path = tmp_path / "locks" / "production.lock"
    held = path.read_text()
    assert json.loads(held) == first["holder"], "the file holds the record the module returned"
    second = controller.rollback_lock(**lock_args(tmp_path, "run-2", owner="bob@ci"))
    assert second.is_failed
    assert "alice@laptop (run run-1, level 3)" in second["msg"]
    assert path.read_text() == held, "the refused run changes nothing"
    retake = controller.rollback_lock(**lock_args(tmp_path, "run-1"))
    assert retake.is_ok and not retake.is_changed, "re-take is a no-op"
    assert path.read_text() == held, "a re-take keeps the original record (since, expiry)"
    refused = controller.rollback_lock(**lock_args(tmp_path, "run-2", state="absent"))
    assert refused.is_failed and "held by another run" in refused["msg"] and path.exists()
    released = controller.rollback_lock(**lock_args(tmp_path, "run-1", state="absent"))
    assert released.is_changed and not path.exists()
    again = controller.rollback_lock(**lock_args(tmp_path, "run-1", state="absent"))
    assert again.is_ok and not again.is_changed


def test_file_lock_check_mode_takes_nothing(ansible_module, tmp_path):
    run = ansible_module("rollback_lock", lock_args(tmp_path, "run-1"), check=True)
    assert run.result["changed"] and not (tmp_path / "locks").exists(), "not even the directory or the guard"


def test_expired_file_lock_is_taken_over(controller, tmp_path):
    (tmp_path / "locks").mkdir()
    old = dict(owner="dead@host", run_id="old", since="2020-01-01T00:00:00Z", expires="2020-01-01T01:00:00Z",
               expires_epoch=1577840400, info={})
    (tmp_path / "locks" / "production.lock").write_text(json.dumps(old))
    run = controller.rollback_lock(**lock_args(tmp_path, "run-1"))
    assert run.is_changed and run["took_over"]["run_id"] == "old", dict(run)
    assert json.loads((tmp_path / "locks" / "production.lock").read_text())["run_id"] == "run-1"


def test_force_releases_a_live_lock_of_another_run(controller, tmp_path):
    assert controller.rollback_lock(**lock_args(tmp_path, "run-1")).is_changed
    forced = controller.rollback_lock(**lock_args(tmp_path, "run-2", state="absent", force=True))
    assert forced.is_changed and forced["holder"]["run_id"] == "run-1"
    assert not (tmp_path / "locks" / "production.lock").exists()


@pytest.mark.parametrize("extra,message", [
    (dict(name="a/b"), "must not contain /"),
    (dict(ttl=0), "ttl must be at least 1 second"),
    (dict(run_id=" "), "run_id must not be empty"),
    (dict(backend="zookeeper"), "value of backend must be one of"),
])
def test_bad_input(controller, tmp_path, extra, message):
    run = controller.rollback_lock(**dict(lock_args(tmp_path, "run-1"), **extra))
    assert run.is_failed and message in run["msg"]
    assert not (tmp_path / "locks").exists()


def test_garbage_lock_file_is_not_overwritten(controller, tmp_path):
    (tmp_path / "locks").mkdir()
    (tmp_path / "locks" / "production.lock").write_text("not json")
    run = controller.rollback_lock(**lock_args(tmp_path, "run-1"))
    assert run.is_failed and "not a rollback.core lock record" in run["msg"]
    assert (tmp_path / "locks" / "production.lock").read_text() == "not json"


def test_etcd_lock_is_exclusive_and_expires_with_its_lease(controller, lab, tmp_path):
    name = "test-" + uuid.uuid4().hex[:8]
    # A lease long enough to outlive the module runs of the exclusivity part on a loaded machine.
    args = dict(name=name, backend="etcd", endpoints=[lab["LAB_ETCD_ENDPOINT"]], ttl=300, owner="alice@awx-1")
    first = controller.rollback_lock(**dict(args, run_id="run-1"))
    assert first.is_changed and "/rollback-core/locks/" + name in first["lock"], dict(first)
    second = controller.rollback_lock(**dict(args, run_id="run-2"))
    assert second.is_failed and "alice@awx-1 (run run-1" in second["msg"]
    client = etcd3gw.client(host="127.0.0.1", port=int(lab["LAB_ETCD_ENDPOINT"].rsplit(":", 1)[1]))
    key = "/rollback-core/locks/" + name
    assert json.loads(client.get(key)[0])["run_id"] == "run-1", "the lock key holds the first run's record"
    refused = controller.rollback_lock(**dict(args, run_id="run-2", state="absent"))
    assert refused.is_failed and client.get(key), "another run cannot release it"
    released = controller.rollback_lock(**dict(args, run_id="run-1", state="absent"))
    assert released.is_changed and not client.get(key)

    assert controller.rollback_lock(**dict(args, run_id="run-3", ttl=2)).is_changed
    deadline = time.monotonic() + 30
    while client.get(key) and time.monotonic() < deadline:  # the lease (2 s) ends: a dead run's lock goes by itself
        time.sleep(0.2)
    assert not client.get(key)
    assert controller.rollback_lock(**dict(args, run_id="run-4")).is_changed
    controller.rollback_lock(**dict(args, run_id="run-4", state="absent"))


def test_etcd_unreachable_is_one_clear_error(controller):
    run = controller.rollback_lock(name="x", run_id="r", backend="etcd", endpoints=["http://127.0.0.1:1"], timeout=1)
    assert run.is_failed and run["msg"].startswith("no etcd endpoint answered")
