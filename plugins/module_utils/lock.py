# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One rollback per environment at a time: a lock held in a file or in etcd.

The holder is a JSON record (owner, run id, since, expires, info) so a refused
run can say who holds the lock. A file lock is created with O_EXCL; one older
than its ttl is taken over (its run is presumed dead). An etcd lock is a key
put only when absent, under a lease of ttl seconds, so it expires by itself.
Release deletes the lock only while it still holds this run's id.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import fcntl
import json
import os
import pwd
import time

from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError
from ansible_collections.rollback.core.plugins.module_utils.toolkit import utc_iso
from ansible_collections.rollback.core.plugins.module_utils.etcd import EtcdKey, EtcdStore

LOCK_SPEC = dict(
    name=dict(type="str", required=True),
    state=dict(type="str", default="present", choices=["present", "absent"]),
    run_id=dict(type="str", required=True),
    owner=dict(type="str"),
    info=dict(type="dict", default={}),
    ttl=dict(type="int", default=3600),
    force=dict(type="bool", default=False),
    backend=dict(type="str", default="file", choices=["file", "etcd"]),
    lock_dir=dict(type="path", default="/var/lock/rollback-core"),
    key_prefix=dict(type="str", default="/rollback-core/locks/", no_log=False),
)


def record(params, now):
    return dict(owner=params["owner"], run_id=params["run_id"], since=utc_iso(now),
                expires=utc_iso(now + params["ttl"]),
                expires_epoch=int(now + params["ttl"]), info=params["info"])


def describe(holder):
    info = holder.get("info") or {}
    extra = ", ".join("%s %s" % (k, info[k]) for k in sorted(info) if not isinstance(info[k], (dict, list)))
    return "%s (run %s%s) since %s, expires %s" % (holder.get("owner"), holder.get("run_id"),
                                                   ", " + extra if extra else "", holder.get("since"),
                                                   holder.get("expires"))


def parse(text, where):
    try:
        holder = json.loads(text)
    except ValueError:
        holder = None
    if not isinstance(holder, dict) or "run_id" not in holder:
        raise RollbackError("lock %s holds something that is not a rollback.core lock record: remove it by hand "
                            "after checking no rollback runs" % where)
    return holder


class FileLock:
    def __init__(self, params):
        if "/" in params["name"] or params["name"] in ("", ".", ".."):
            raise RollbackError("lock name %r must not contain / (it names a file in lock_dir)" % params["name"])
        self.path = os.path.join(params["lock_dir"], params["name"] + ".lock")

    def where(self):
        return self.path

    @contextlib.contextmanager
    def guard(self):
        """Serialise check-then-change among runs on this machine (two takeovers of one expired lock)."""
        os.makedirs(os.path.dirname(self.path), mode=0o755, exist_ok=True)
        with open(self.path + ".guard", "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def holder(self):
        try:
            with open(self.path) as handle:
                return parse(handle.read(), self.path)
        except FileNotFoundError:
            return None

    def create(self, holder):
        os.makedirs(os.path.dirname(self.path), mode=0o755, exist_ok=True)
        try:
            descriptor = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            return False
        with os.fdopen(descriptor, "w") as handle:
            json.dump(holder, handle, sort_keys=True)
        return True

    def expired(self, holder, now):
        return holder.get("expires_epoch", 0) <= now

    def remove(self, holder):
        current = self.holder()
        if current is None or current.get("run_id") != holder.get("run_id"):
            return False
        os.remove(self.path)
        return True


class EtcdLock:
    def __init__(self, params, store_factory):
        self.store = store_factory(params)
        self.key_name = params["key_prefix"].rstrip("/") + "/" + params["name"]
        self.key = EtcdKey(self.store, self.key_name)
        self.ttl = params["ttl"]
        self._raw = {}

    def where(self):
        return "etcd key %s at %s" % (self.key_name, self.store.endpoint)

    @contextlib.contextmanager
    def guard(self):
        yield  # etcd's transactions make each step atomic

    def holder(self):
        text = self.key.get()
        if text is None:
            return None
        holder = parse(text, self.where())
        self._raw[holder.get("run_id")] = text
        return holder

    def create(self, holder):
        text = json.dumps(holder, sort_keys=True)
        created, _current = self.key.create(text, self.ttl)
        if created:
            self._raw[holder["run_id"]] = text
        return created

    def expired(self, holder, now):
        return False  # the lease expires the key itself

    def remove(self, holder):
        text = self._raw.get(holder.get("run_id"))
        return bool(text) and self.key.delete_if(text)


def backend(params):
    if params["backend"] == "file":
        return FileLock(params)
    return EtcdLock(params, EtcdStore)


def acquire(module, lock, now):
    params = module.params
    holder = lock.holder()
    result = dict(lock=lock.where(), holder=holder, took_over=None)
    if holder and holder.get("run_id") == params["run_id"]:
        return dict(result, changed=False)
    if holder and not lock.expired(holder, now) and not params["force"]:
        raise RollbackError("another rollback holds the lock %s: %s. Wait for it to finish; if that run is dead, "
                            "release the lock with rollback.core.rollback_lock state=absent force=true"
                            % (params["name"], describe(holder)), holder=holder, lock=lock.where())
    mine = record(params, now)
    result.update(changed=True, holder=mine, took_over=holder)
    if module.check_mode:
        return result
    if holder:
        lock.remove(holder)
    if not lock.create(mine):
        taken = lock.holder()
        raise RollbackError("another rollback took the lock %s first: %s" % (params["name"], describe(taken or {})),
                            holder=taken, lock=lock.where())
    return result


def release(module, lock):
    params = module.params
    holder = lock.holder()
    result = dict(lock=lock.where(), holder=holder, took_over=None)
    if holder is None:
        return dict(result, changed=False)
    if holder.get("run_id") != params["run_id"] and not params["force"]:
        raise RollbackError("the lock %s is held by another run: %s; not released (force=true releases it)"
                            % (params["name"], describe(holder)), holder=holder, lock=lock.where())
    result["changed"] = True
    if not module.check_mode and not lock.remove(holder):
        raise RollbackError("the lock %s changed hands while releasing it: %s"
                            % (params["name"], describe(lock.holder() or {})), lock=lock.where())
    return result


def run(module):
    params = module.params
    if params["ttl"] < 1:
        raise RollbackError("ttl must be at least 1 second, got %d" % params["ttl"])
    if not params["run_id"].strip():
        raise RollbackError("run_id must not be empty: it tells this run's lock from another's")
    if not params["owner"]:
        params["owner"] = "%s@%s" % (os.environ.get("USER") or pwd.getpwuid(os.getuid()).pw_name, os.uname()[1])
    lock = backend(params)
    # Check mode writes nothing, not even the guard file.
    with (contextlib.nullcontext() if module.check_mode else lock.guard()):
        if params["state"] == "present":
            return acquire(module, lock, time.time())
        return release(module, lock)
