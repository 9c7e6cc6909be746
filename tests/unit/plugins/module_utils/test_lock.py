"""The file lock end to end through lock.run(): acquire, refuse, take over, release, bad input."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import time

import pytest

from ansible_collections.rollback.core.plugins.module_utils import lock, toolkit
from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError

INFO = dict(environment="production", level=3, reason="bad deploy")


class FakeModule:
    def __init__(self, params, check_mode=False):
        self.params = params
        self.check_mode = check_mode


def params(tmp_path, **extra):
    values = dict(name="production", state="present", run_id="run-1", owner="alice@ops", info=dict(INFO), ttl=3600,
                  force=False, backend="file", lock_dir=str(tmp_path / "locks"), key_prefix="/rollback-core/locks/")
    values.update(extra)
    return values


def run(tmp_path, check_mode=False, **extra):
    return lock.run(FakeModule(params(tmp_path, **extra), check_mode=check_mode))


def lock_file(tmp_path, name="production"):
    return tmp_path / "locks" / (name + ".lock")


def write_holder(tmp_path, run_id="run-other", owner="bob@ops", expires_epoch=None, **extra):
    """A record as another run would have written it; live for an hour unless told otherwise."""
    now = int(time.time())
    expires_epoch = now + 3600 if expires_epoch is None else expires_epoch
    holder = dict(owner=owner, run_id=run_id, since=toolkit.utc_iso(now - 60), expires=toolkit.utc_iso(expires_epoch),
                  expires_epoch=expires_epoch, info=dict(environment="production", level=1, reason="other"))
    holder.update(extra)
    path = lock_file(tmp_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(holder, sort_keys=True))
    return holder


def on_disk(tmp_path):
    return json.loads(lock_file(tmp_path).read_text())


def test_acquire_creates_the_lock_file_with_the_holder_record(tmp_path):
    before = time.time()
    result = run(tmp_path, ttl=600)
    assert result["changed"] is True
    assert result["lock"] == str(lock_file(tmp_path))
    assert result["took_over"] is None
    holder = on_disk(tmp_path)
    assert (holder["owner"], holder["run_id"], holder["info"]) == ("alice@ops", "run-1", INFO)
    assert int(before) + 600 <= holder["expires_epoch"] <= time.time() + 600
    assert holder["since"].endswith("Z") and holder["expires"].endswith("Z")
    assert result["holder"] == holder


def test_acquire_without_owner_names_user_and_host(tmp_path, monkeypatch):
    monkeypatch.setenv("USER", "carol")
    result = run(tmp_path, owner=None)
    assert result["holder"]["owner"] == "carol@%s" % os.uname()[1]
    assert on_disk(tmp_path)["owner"] == "carol@%s" % os.uname()[1]


def test_second_acquire_by_the_same_run_changes_nothing(tmp_path):
    first = run(tmp_path)
    content = lock_file(tmp_path).read_text()
    second = run(tmp_path)
    assert second["changed"] is False
    assert second["holder"] == first["holder"]
    assert lock_file(tmp_path).read_text() == content


def test_acquire_by_another_run_is_refused_and_names_the_holder(tmp_path):
    holder = write_holder(tmp_path, run_id="run-other", owner="bob@ops")
    content = lock_file(tmp_path).read_text()
    with pytest.raises(RollbackError) as error:
        run(tmp_path, run_id="run-1")
    assert "bob@ops" in error.value.msg
    assert "run run-other" in error.value.msg
    assert "another rollback holds the lock production" in error.value.msg
    assert error.value.details["holder"] == holder
    assert error.value.details["lock"] == str(lock_file(tmp_path))
    assert lock_file(tmp_path).read_text() == content


def test_acquire_refused_in_check_mode_too(tmp_path):
    write_holder(tmp_path)
    content = lock_file(tmp_path).read_text()
    with pytest.raises(RollbackError, match="another rollback holds the lock"):
        run(tmp_path, check_mode=True)
    assert lock_file(tmp_path).read_text() == content


def test_expired_lock_is_taken_over(tmp_path):
    old = write_holder(tmp_path, run_id="run-dead", owner="bob@ops", expires_epoch=int(time.time()) - 10)
    result = run(tmp_path)
    assert result["changed"] is True
    assert result["took_over"] == old
    assert result["holder"]["run_id"] == "run-1"
    assert on_disk(tmp_path)["run_id"] == "run-1"
    assert on_disk(tmp_path)["owner"] == "alice@ops"


def test_force_takes_a_live_lock(tmp_path):
    old = write_holder(tmp_path, run_id="run-other")
    result = run(tmp_path, force=True)
    assert result["changed"] is True
    assert result["took_over"] == old
    assert on_disk(tmp_path)["run_id"] == "run-1"


def test_check_mode_acquire_reports_changed_but_writes_nothing(tmp_path):
    result = run(tmp_path, check_mode=True)
    assert result["changed"] is True
    assert result["holder"]["run_id"] == "run-1"
    assert not lock_file(tmp_path).exists()
    assert not (tmp_path / "locks").exists()


def test_check_mode_takeover_leaves_the_old_lock(tmp_path):
    old = write_holder(tmp_path, expires_epoch=int(time.time()) - 10)
    content = lock_file(tmp_path).read_text()
    result = run(tmp_path, check_mode=True)
    assert result["changed"] is True
    assert result["took_over"] == old
    assert lock_file(tmp_path).read_text() == content


def test_release_by_the_holder_removes_the_file(tmp_path):
    acquired = run(tmp_path)
    result = run(tmp_path, state="absent")
    assert result["changed"] is True
    assert result["holder"] == acquired["holder"]
    assert not lock_file(tmp_path).exists()


def test_release_in_check_mode_keeps_the_file(tmp_path):
    run(tmp_path)
    result = run(tmp_path, state="absent", check_mode=True)
    assert result["changed"] is True
    assert lock_file(tmp_path).exists()


def test_release_without_a_lock_is_unchanged(tmp_path):
    result = run(tmp_path, state="absent")
    assert result["changed"] is False
    assert result["holder"] is None
    assert not lock_file(tmp_path).exists()


def test_release_by_another_run_is_refused(tmp_path):
    holder = write_holder(tmp_path, run_id="run-other", owner="bob@ops")
    content = lock_file(tmp_path).read_text()
    with pytest.raises(RollbackError) as error:
        run(tmp_path, state="absent", run_id="run-1")
    assert "held by another run" in error.value.msg
    assert "bob@ops" in error.value.msg and "run-other" in error.value.msg
    assert error.value.details["holder"] == holder
    assert lock_file(tmp_path).read_text() == content


def test_release_by_another_run_with_force_removes_the_file(tmp_path):
    write_holder(tmp_path, run_id="run-other")
    result = run(tmp_path, state="absent", run_id="run-1", force=True)
    assert result["changed"] is True
    assert result["holder"]["run_id"] == "run-other"
    assert not lock_file(tmp_path).exists()


@pytest.mark.parametrize("content", ["garbage, not json", "", "[1, 2]", '{"owner": "bob"}'],
                         ids=["text", "empty", "json list", "no run_id"])
@pytest.mark.parametrize("state", ["present", "absent"])
def test_garbage_lock_file_is_refused(tmp_path, content, state):
    path = lock_file(tmp_path)
    path.parent.mkdir(parents=True)
    path.write_text(content)
    with pytest.raises(RollbackError) as error:
        run(tmp_path, state=state, force=True)
    assert "not a rollback.core lock record" in error.value.msg
    assert str(path) in error.value.msg
    assert path.read_text() == content


@pytest.mark.parametrize("name", ["prod/eu", "../production", "..", ".", ""])
def test_lock_name_that_is_not_a_plain_file_name_is_refused(tmp_path, name):
    with pytest.raises(RollbackError, match="must not contain /"):
        run(tmp_path, name=name)
    assert not (tmp_path / "locks").exists()
    assert not (tmp_path / "production.lock").exists()


@pytest.mark.parametrize("ttl", [0, -5])
def test_ttl_below_one_second_is_refused(tmp_path, ttl):
    with pytest.raises(RollbackError, match="ttl must be at least 1 second, got %d" % ttl):
        run(tmp_path, ttl=ttl)
    assert not lock_file(tmp_path).exists()


@pytest.mark.parametrize("run_id", ["", "   "])
def test_empty_run_id_is_refused(tmp_path, run_id):
    with pytest.raises(RollbackError, match="run_id must not be empty"):
        run(tmp_path, run_id=run_id)
    assert not lock_file(tmp_path).exists()


def test_two_locks_with_different_names_do_not_interfere(tmp_path):
    run(tmp_path, name="production", run_id="run-1")
    run(tmp_path, name="staging", run_id="run-2")
    assert on_disk(tmp_path)["run_id"] == "run-1"
    assert json.loads(lock_file(tmp_path, "staging").read_text())["run_id"] == "run-2"


def test_describe_names_owner_run_and_info():
    holder = dict(owner="bob@ops", run_id="run-42", since="2025-11-12T10:00:00Z", expires="2025-11-12T11:00:00Z",
                  info=dict(environment="production", level=3, services=["api", "web"], extra={"a": 1}))
    text = lock.describe(holder)
    assert text == ("bob@ops (run run-42, environment production, level 3) since 2025-11-12T10:00:00Z, "
                    "expires 2025-11-12T11:00:00Z")
    assert "services" not in text and "extra" not in text


def test_describe_without_info():
    text = lock.describe(dict(owner="bob@ops", run_id="run-42", since="s", expires="e"))
    assert text == "bob@ops (run run-42) since s, expires e"


def test_describe_of_a_record_written_by_acquire(tmp_path):
    result = run(tmp_path)
    text = lock.describe(result["holder"])
    assert "alice@ops" in text and "run run-1" in text
    for key, value in INFO.items():
        assert "%s %s" % (key, value) in text
    assert result["holder"]["since"] in text and result["holder"]["expires"] in text


def test_a_takeover_holds_the_guard_while_it_removes_the_expired_lock(tmp_path, monkeypatch):
    """Two runs taking over one expired lock: the check-then-remove happens under an exclusive flock, so the
    second run cannot delete the first one's new lock in between (it waits, then finds a live holder)."""
    import fcntl

    write_holder(tmp_path, run_id="run-dead", expires_epoch=int(time.time()) - 10)
    real_remove = os.remove
    guard_was_held = []

    def remove(path):
        with open(str(lock_file(tmp_path)) + ".guard", "a") as other:
            try:
                fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                guard_was_held.append(True)
            else:
                fcntl.flock(other, fcntl.LOCK_UN)
                guard_was_held.append(False)
        real_remove(path)

    monkeypatch.setattr(os, "remove", remove)
    result = lock.run(FakeModule(params(tmp_path, run_id="run-2")))
    monkeypatch.undo()
    assert result["took_over"]["run_id"] == "run-dead"
    assert guard_was_held == [True]
    assert on_disk(tmp_path)["run_id"] == "run-2"


# Killed mutants (./dev mutate plugins/module_utils/lock.py): each test below failed on a surviving mutant.

def test_the_expiry_shown_is_the_expiry_enforced(tmp_path):
    holder = run(tmp_path, ttl=600)["holder"]
    assert holder["expires"] == toolkit.utc_iso(holder["expires_epoch"])
    assert holder["expires_epoch"] - 600 <= time.time()


def test_a_lock_file_that_appeared_meanwhile_is_not_overwritten(tmp_path):
    theirs = write_holder(tmp_path, run_id="run-0")
    file_lock = lock.FileLock(params(tmp_path))
    assert file_lock.create(lock.record(params(tmp_path), time.time())) is False
    assert on_disk(tmp_path) == theirs, "O_EXCL: the other run's record stays"


def test_the_lock_file_is_readable_by_other_users_to_name_the_holder(tmp_path):
    run(tmp_path)
    assert os.stat(lock_file(tmp_path)).st_mode & 0o777 == 0o644


@pytest.mark.parametrize("other", ["run-0", "run-9"])
def test_remove_deletes_only_the_record_of_the_run_it_was_given(tmp_path, other):
    theirs = write_holder(tmp_path, run_id=other)
    file_lock = lock.FileLock(params(tmp_path))
    assert file_lock.remove(dict(run_id="run-1")) is False
    assert on_disk(tmp_path) == theirs
    assert file_lock.remove(dict(run_id=other)) is True and not lock_file(tmp_path).exists()
    assert file_lock.remove(dict(run_id=other)) is False, "nothing left to remove"


@pytest.mark.parametrize("other", ["run-0", "run-9"])
def test_release_by_a_run_whose_id_sorts_before_or_after_the_holder_is_refused(tmp_path, other):
    write_holder(tmp_path, run_id=other)
    with pytest.raises(RollbackError, match="held by another run"):
        run(tmp_path, state="absent")
    assert lock_file(tmp_path).exists()


class FakeEtcdKey:
    """EtcdKey's contract (create only when absent, delete only while it holds the value) over a dict."""

    store = {}

    def __init__(self, store, key):
        self.key = key

    def get(self):
        return self.store.get(self.key)

    def create(self, value, ttl):
        if self.key in self.store:
            return False, self.store[self.key]
        self.store[self.key] = value
        return True, value

    def delete_if(self, value):
        if self.store.get(self.key) != value:
            return False
        del self.store[self.key]
        return True


def test_the_etcd_lock_lives_under_the_prefix_and_is_released_by_its_run(tmp_path, monkeypatch):
    monkeypatch.setattr(lock, "EtcdKey", FakeEtcdKey)
    monkeypatch.setattr(FakeEtcdKey, "store", {})
    etcd_params = params(tmp_path, backend="etcd", key_prefix="/rollback-core/locks/")
    etcd_lock = lock.EtcdLock(etcd_params, lambda p: type("Store", (), {"endpoint": "http://etcd:2379"})())
    assert etcd_lock.key_name == "/rollback-core/locks/production"
    assert etcd_lock.where() == "etcd key /rollback-core/locks/production at http://etcd:2379"
    mine = lock.record(etcd_params, time.time())
    assert etcd_lock.create(mine) is True
    assert etcd_lock.create(dict(mine, run_id="run-2")) is False
    assert etcd_lock.remove(dict(run_id="run-2")) is False, "another run's release deletes nothing"
    assert etcd_lock.remove(mine) is True and FakeEtcdKey.store == {}
