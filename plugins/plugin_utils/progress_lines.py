# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The controller side of progress records (module_utils/progress.py): a thread that prints the running waits.

Each record names the process of the module that writes it. The module runs under a worker process forked
from this one (multiprocessing), which knows its host: walking the module's parents up to a worker gives the
host exactly, even with 50 hosts running the same task. Where that fails (no /proc), the host is the one host
running a task of that module, else the module's name.

A task that runs as long with no record for its host - a module run over SSH on another host, whose record the
controller cannot read (a pg_restore on a remote database host), or any task that waits outside the shared waiter -
is shown too, without a state: one ``running:`` line per task, naming its hosts and how long it has run. A host
whose record has just ended (the wait is over, the result is on its way back) stays quiet for an interval first.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import atexit
import json
import multiprocessing
import os
import shutil
import tempfile
import threading
import time

from ansible_collections.rollback.core.plugins.module_utils.progress import PROGRESS_DIR_ENV

TICK = 1.0  # seconds between two reads of the records
MAX_PARENTS = 8  # module -> shell -> ... -> worker: a few levels at most
NAMED_HOSTS = 3  # a running line names this many hosts of a task, then counts the others


def duration(seconds):
    """``4m10s``, ``1h02m``, ``35s``: what an operator reads at a glance."""
    seconds = int(round(seconds))
    if seconds >= 3600:
        return "%dh%02dm" % (seconds // 3600, seconds % 3600 // 60)
    if seconds >= 60:
        return "%dm%02ds" % (seconds // 60, seconds % 60) if seconds % 60 else "%dm" % (seconds // 60)
    return "%ds" % seconds


def parent_of(pid):
    try:
        with open("/proc/%d/stat" % pid) as handle:
            return int(handle.read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # not ours to signal, but there
    return True


class ProgressLines:
    def __init__(self, display, interval, clock=time.monotonic):
        self.display = display
        self.interval = float(interval)
        self.directory = tempfile.mkdtemp(prefix="rollback-progress-")
        atexit.register(shutil.rmtree, self.directory, True)  # a run that never reaches the stats (interrupted)
        os.environ[PROGRESS_DIR_ENV] = self.directory  # the workers, and the local modules they run, inherit it
        self._clock = clock
        self._running = {}  # (host, task uuid) -> (module short name, task name, when it started)
        self._shown = {}  # record file -> when its last line was printed
        self._shown_running = {}  # task uuid -> when its last running line was printed
        self._hosts = {}  # record file -> the host its module's worker runs for
        self._record_seen = {}  # host -> when a live record of it was last read
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="rollback-progress", daemon=True)

    def start(self):
        self._thread.start()

    def stop(self):
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)
        os.environ.pop(PROGRESS_DIR_ENV, None)
        shutil.rmtree(self.directory, ignore_errors=True)

    def task_started(self, host, task):
        self._running[(host, task._uuid)] = (task.action.rsplit(".", 1)[-1], task.get_name().strip(), self._clock())

    def task_ended(self, host, task):
        self._running.pop((host, task._uuid), None)

    def _loop(self):
        while not self._stop.wait(TICK):
            try:
                self.show()
            except Exception as error:  # noqa: BLE001 - progress never breaks a run
                self.display.vvv("rollback.core progress: %s" % error)

    def show(self):
        now = self._clock()
        names, recorded = set(), set()
        for name in sorted(os.listdir(self.directory)):
            if not name.endswith(".json"):
                continue
            names.add(name)
            try:
                with open(os.path.join(self.directory, name)) as handle:
                    record = json.load(handle)
            except (OSError, ValueError):
                continue
            if not alive(record.get("pid", 0)):
                continue
            host = self.host_of(name, record)
            recorded.add(host)
            self._record_seen[host] = now
            last = self._shown.get(name)
            due = record["elapsed"] >= self.interval / 2 if last is None else now - last >= self.interval
            if due:
                self._shown[name] = now
                self.display.display(self.line(record, host))
        for gone in set(self._shown) - names:
            del self._shown[gone]
        for gone in set(self._hosts) - names:
            del self._hosts[gone]
        self.show_running(now, recorded)

    def show_running(self, now, recorded):
        """One line per task that has run long on hosts without a record of their own, on the records' schedule."""
        tasks = {}
        for (host, uuid), (_module, name, started) in sorted(self._running.items()):
            seen = self._record_seen.get(host)
            if seen is not None and seen >= started and now - seen < self.interval:
                continue  # its wait has just ended: the task is finishing, its last line was a waiting line
            if host not in recorded:
                task = tasks.setdefault(uuid, dict(name=name, started=started, hosts=[]))
                task["hosts"].append(host)
                task["started"] = min(task["started"], started)
        for uuid, task in tasks.items():
            elapsed = now - task["started"]
            last = self._shown_running.get(uuid)
            if elapsed >= self.interval / 2 if last is None else now - last >= self.interval:
                self._shown_running[uuid] = now
                self.display.display(self.running_line(task["hosts"], task["name"], elapsed))
        for gone in set(self._shown_running) - set(tasks):
            del self._shown_running[gone]

    @staticmethod
    def running_line(hosts, name, elapsed):
        named = ", ".join(hosts[:NAMED_HOSTS]) + (" (+%d)" % (len(hosts) - NAMED_HOSTS) if len(hosts) > NAMED_HOSTS
                                                  else "")
        return 'running: %s "%s" %s' % (named, name, duration(elapsed))

    @staticmethod
    def line(record, host):
        elapsed = record["elapsed"] + max(0.0, time.time() - record.get("updated", time.time()))
        limit = "timeout %s" % duration(record["timeout"]) if record.get("timeout") else "no timeout"
        return "waiting: %s %s state=%s %s (%s)" % (
            host, record["what"], record["state"], duration(elapsed), limit)

    def host_of(self, name, record):
        """The host of the record in file ``name``: found through its worker once (every tick reads every record),
        else the one host running a task of its module, else the module's name."""
        host = self._hosts.get(name) or self.worker_host(record.get("pid"))
        if host is not None:
            self._hosts[name] = host
            return host
        module = (record.get("module") or "").rsplit(".", 1)[-1]
        hosts = sorted(set(host for (host, _uuid), (action, _name, _started) in list(self._running.items())
                           if action == module))
        return hosts[0] if len(hosts) == 1 else module or "?"

    @staticmethod
    def worker_host(pid):
        """The host of the worker process ``pid`` runs under, or None."""
        workers = {}
        try:
            for worker in multiprocessing.active_children():
                host = getattr(worker, "_host", None)
                if host is not None:
                    workers[worker.pid] = host.get_name()
        except RuntimeError:  # the strategy changed the set of workers meanwhile
            pass
        for _level in range(MAX_PARENTS):
            if pid is None or pid <= 1:
                break
            if pid in workers:
                return workers[pid]
            pid = parent_of(pid)
        return None
