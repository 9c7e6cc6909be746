"""plugins/module_utils/lock.py: the rollback_lock module's spec defaults and required options, the etcd backend
through lock.run, option values compared by value, the lock directory's mode and a lost race named. Each kills a
mutant ./dev mutate found surviving test_lock.py (whose helpers these reuse)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import time

import pytest
from support.modules import load_module, run_main
from test_lock import FakeEtcdKey, FakeModule, lock_file, on_disk, params, write_holder

from ansible_collections.rollback.core.plugins.module_utils import lock
from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError


def fresh(text):
    """The string as a module parameter holds it: parsed from the task's JSON, never the literal in lock.py."""
    return json.loads(json.dumps(text))


def test_the_module_takes_a_lock_for_an_hour_by_default_and_needs_a_name_and_run_id(tmp_path):
    main = load_module("rollback_lock").main
    before = int(time.time())
    failed, result = run_main(main, dict(name="production", run_id="run-1", owner="alice@ops",
                                         lock_dir=str(tmp_path / "locks")))
    assert not failed and result["changed"] and lock_file(tmp_path).exists()
    assert before + 3600 <= result["holder"]["expires_epoch"] <= int(time.time()) + 3600
    failed, result = run_main(main, dict(name="production", run_id="run-2", lock_dir=str(tmp_path / "locks")))
    assert failed and result["msg"].startswith("another rollback holds the lock production"), "no force by default"
    for missing in ("name", "run_id"):
        args = dict(name="production", run_id="run-1", lock_dir=str(tmp_path / "other"))
        del args[missing]
        failed, result = run_main(main, args)
        assert failed and result["msg"] == "missing required arguments: %s" % missing


def test_the_key_prefix_is_not_masked_in_the_output(tmp_path, monkeypatch):
    # It names where an etcd lock lives (in ``lock`` and every message): no_log=False, a name, not a secret, despite
    # "key" in the option's name. Ansible masks each no_log value wherever it appears in the output.
    seen = []
    monkeypatch.setattr(lock, "run", lambda module: seen.append(module) or dict(changed=False))
    args = dict(name="production", run_id="run-1", key_prefix="/locks/")
    failed, _result = run_main(load_module("rollback_lock").main, args)
    assert not failed and "/locks/" not in seen[0].no_log_values


@pytest.fixture
def etcd_backend(monkeypatch):
    monkeypatch.setattr(lock, "EtcdKey", FakeEtcdKey)
    monkeypatch.setattr(FakeEtcdKey, "store", {})
    monkeypatch.setattr(lock, "EtcdStore", lambda p: type("Store", (), {"endpoint": "http://etcd:2379"})())
    return FakeEtcdKey.store


def test_the_etcd_backend_takes_refuses_and_releases_through_run(tmp_path, etcd_backend):
    mine = params(tmp_path, backend=fresh("etcd"), state=fresh("present"))
    result = lock.run(FakeModule(dict(mine)))
    assert result["changed"] and result["lock"] == "etcd key /rollback-core/locks/production at http://etcd:2379"
    assert json.loads(etcd_backend["/rollback-core/locks/production"])["run_id"] == "run-1"
    assert not (tmp_path / "locks").exists(), "no file backend"
    with pytest.raises(RollbackError, match="another rollback holds the lock production: alice@ops"):
        lock.run(FakeModule(dict(mine, run_id="run-2")))
    assert lock.run(FakeModule(dict(mine, state=fresh("absent"))))["changed"] and etcd_backend == {}
    assert lock.run(FakeModule(dict(mine, state=fresh("absent"))))["changed"] is False, "no key: nothing to release"


def test_the_file_backend_and_state_present_are_compared_by_value(tmp_path):
    result = lock.run(FakeModule(params(tmp_path, backend=fresh("file"), state=fresh("present"))))
    assert result["changed"] and on_disk(tmp_path)["run_id"] == "run-1"


def test_records_are_written_with_sorted_keys(tmp_path, etcd_backend):
    # The same record gives the same bytes: the etcd release compares the key's value with what was written.
    lock.run(FakeModule(params(tmp_path)))
    text = lock_file(tmp_path).read_text()
    assert text == json.dumps(json.loads(text), sort_keys=True)
    lock.run(FakeModule(params(tmp_path, backend="etcd")))
    value = etcd_backend["/rollback-core/locks/production"]
    assert value == json.dumps(json.loads(value), sort_keys=True)


def test_the_lock_directory_is_readable_by_other_users(tmp_path):
    umask = os.umask(0o022)
    try:
        lock.run(FakeModule(params(tmp_path)))
        lock.FileLock(params(tmp_path, lock_dir=str(tmp_path / "made-by-create"))).create({"run_id": "run-1"})
    finally:
        os.umask(umask)
    for made in ("locks", "made-by-create"):
        assert os.stat(str(tmp_path / made)).st_mode & 0o777 == 0o755


def test_a_ttl_of_one_second_is_enough(tmp_path):
    assert lock.run(FakeModule(params(tmp_path, ttl=1)))["holder"]["expires_epoch"] <= int(time.time()) + 1


class LosingLock(lock.FileLock):
    """Another run creates its lock between this run's check and its create."""

    def __init__(self, params, winner):
        super(LosingLock, self).__init__(params)
        self.winner, self.checked = winner, False

    def holder(self):
        if not self.checked:
            self.checked = True
            return None
        return self.winner

    def create(self, holder):
        return False


@pytest.mark.parametrize("winner,named", [
    (dict(owner="bob@ops", run_id="run-2", since="s", expires="e"), "bob@ops (run run-2) since s, expires e"),
    (None, "None (run None) since None, expires None"),  # and gone again when looked at
])
def test_a_lost_race_names_the_winner(tmp_path, winner, named):
    with pytest.raises(RollbackError) as error:
        lock.acquire(FakeModule(params(tmp_path)), LosingLock(params(tmp_path), winner), time.time())
    assert error.value.msg == "another rollback took the lock production first: %s" % named
    assert error.value.details["holder"] == winner


@pytest.mark.parametrize("other", ["run-0", "run-9"])
def test_a_lock_held_by_a_run_whose_id_sorts_before_or_after_is_not_ours(tmp_path, other):
    write_holder(tmp_path, run_id=other)
    with pytest.raises(RollbackError, match="another rollback holds the lock production"):
        lock.run(FakeModule(params(tmp_path)))
    assert on_disk(tmp_path)["run_id"] == other


def test_a_file_lock_expires_at_its_expiry_second(tmp_path):
    holder = lock.record(params(tmp_path, ttl=60), 1000.0)
    file_lock = lock.FileLock(params(tmp_path))
    assert not file_lock.expired(holder, 1059.9) and file_lock.expired(holder, 1060.0)


class ChangingHands(lock.FileLock):
    """The lock is taken by another run (or released) between this run's check and its remove."""

    def __init__(self, params, holders):
        super(ChangingHands, self).__init__(params)
        self.holders = list(holders)

    def holder(self):
        return self.holders.pop(0)

    def remove(self, holder):
        return False


@pytest.mark.parametrize("now,named", [
    (dict(owner="bob@ops", run_id="run-2", since="s", expires="e"), "bob@ops (run run-2) since s, expires e"),
    (None, "None (run None) since None, expires None"),
])
def test_a_lock_that_changed_hands_while_released_names_the_new_holder(tmp_path, now, named):
    mine = dict(owner="alice@ops", run_id="run-1")
    with pytest.raises(RollbackError) as error:
        lock.release(FakeModule(params(tmp_path)), ChangingHands(params(tmp_path), [mine, now]))
    assert error.value.msg == "the lock production changed hands while releasing it: %s" % named
