# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The progress record of a running wait, for the controller to show while the task runs.

A module's result reaches the controller only when the module ends: a 40-minute RDS restore would be 40 silent
minutes. While a wait runs, the waiter keeps a small JSON record (what, state, elapsed, timeout) in the
directory named by ROLLBACK_PROGRESS_DIR, which the rollback.core.timeline callback sets for the run and
reads on an interval. Only modules that run on the controller (connection local, delegate_to localhost: the
API-talking ones) see that variable; elsewhere nothing is written. A record that cannot be written never
fails the module: progress is a courtesy, the result is the truth.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import itertools
import json
import os
import subprocess
import tempfile
import time

PROGRESS_DIR_ENV = "ROLLBACK_PROGRESS_DIR"
MIN_WRITE_INTERVAL = 1.0  # seconds between two writes of one record: the callback reads every few seconds

_MODULE = {"name": None}
_SEQUENCE = itertools.count()


def set_module(name):
    """The module the records of this process belong to (RollbackModule sets it), to name the task's host."""
    _MODULE["name"] = name


class Record:
    """One wait's record: ``update`` on every poll, ``close`` when the wait ends."""

    def __init__(self, what, timeout, environ=None, clock=time.monotonic):
        directory = (os.environ if environ is None else environ).get(PROGRESS_DIR_ENV)
        self.path = None
        if directory and os.path.isdir(directory):
            self.path = os.path.join(directory, "%d-%d.json" % (os.getpid(), next(_SEQUENCE)))
        self.what = what
        self.timeout = timeout
        self._clock = clock
        self.started = clock()
        self._written = None

    def update(self, state):
        if self.path is None:
            return
        now = self._clock()
        if self._written is not None and now - self._written < MIN_WRITE_INTERVAL:
            return
        record = dict(module=_MODULE["name"], pid=os.getpid(), what=self.what, state=str(state)[:200],
                      elapsed=round(now - self.started, 1), timeout=self.timeout, updated=time.time())
        try:
            with open(self.path + ".tmp", "w") as handle:
                json.dump(record, handle)
            os.rename(self.path + ".tmp", self.path)
        except OSError:
            self.path = None  # the directory went away (the run ended): stop trying
            return
        self._written = now

    def close(self):
        if self.path is not None:
            try:
                os.remove(self.path)
            except OSError:
                pass


def run_command(argv, what, env=None, timeout=None):
    """``subprocess.run(argv, capture_output=True, text=True)`` for a long command (pg_restore, pg_dump), its
    progress kept in a record while it runs: ``(returncode, stdout, stderr)``.

    The output goes to temporary files, not pipes, so a large output never blocks the command.
    """
    record = Record(what, timeout)
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        process = subprocess.Popen(argv, env=env, stdout=out, stderr=err)
        try:
            while True:
                try:
                    returncode = process.wait(timeout=MIN_WRITE_INTERVAL)
                    break
                except subprocess.TimeoutExpired:
                    record.update("running (pid %d)" % process.pid)
        finally:
            record.close()
            if process.poll() is None:
                process.kill()
                process.wait()
        out.seek(0)
        err.seek(0)
        return (returncode, out.read().decode("utf-8", "replace"), err.read().decode("utf-8", "replace"))
