"""Progress records of running waits (module_utils/progress.py) and the lines the controller prints from them."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import sys

import pytest
from support.fake_clock import FakeClock

from ansible_collections.rollback.core.plugins.module_utils import progress
from ansible_collections.rollback.core.plugins.module_utils.wait import WaitTimeout, wait_until
from ansible_collections.rollback.core.plugins.plugin_utils.progress_lines import ProgressLines, duration


class Display:
    def __init__(self):
        self.lines = []

    def display(self, line):
        self.lines.append(line)


def records(directory):
    return [json.loads((directory / name).read_text()) for name in sorted(os.listdir(directory))
            if name.endswith(".json")]


def test_a_wait_keeps_its_last_state_in_a_record_and_removes_it_at_the_end(tmp_path, monkeypatch):
    monkeypatch.setenv(progress.PROGRESS_DIR_ENV, str(tmp_path))
    clock, seen = FakeClock(), []
    # Polled at 0, 0.1, 0.3, 0.7, 1.5, 2.5 and 3.5 s (the waiter's pauses double from 0.1 s up to its 1 s sleep).
    states = iter(["creating"] + ["modifying"] * 5 + ["available"])

    def probe():
        state = next(states)
        seen.append(records(tmp_path))
        return state == "available", "status=" + state

    assert wait_until(probe, "RDS instance demo-db to be available", 600, 1.0, clock, clock.sleep) == "status=available"
    # Written after each unfinished poll, at most once a second, never left behind.
    what = "RDS instance demo-db to be available"
    assert [[(r["what"], r["state"], r["elapsed"], r["timeout"]) for r in polled] for polled in seen[1:]] == [
        [(what, "status=creating", 0.0, 600)]] * 4 + [
        [(what, "status=modifying", 1.5, 600)],
        [(what, "status=modifying", 2.5, 600)]]
    assert records(tmp_path) == []


def test_a_timed_out_wait_removes_its_record_and_no_directory_means_no_record(tmp_path, monkeypatch):
    monkeypatch.setenv(progress.PROGRESS_DIR_ENV, str(tmp_path))
    clock = FakeClock()
    with pytest.raises(WaitTimeout):
        wait_until(lambda: (False, "pending"), "x", 3, 1.0, clock, clock.sleep)
    assert os.listdir(tmp_path) == []
    monkeypatch.setenv(progress.PROGRESS_DIR_ENV, str(tmp_path / "gone"))
    record = progress.Record("x", 3)
    record.update("pending")
    assert record.path is None and not (tmp_path / "gone").exists()


def test_a_long_command_is_reported_while_it_runs_and_returns_what_it_printed(tmp_path, monkeypatch):
    monkeypatch.setenv(progress.PROGRESS_DIR_ENV, str(tmp_path))
    code = ("import os, sys, time; time.sleep(2.5); print(sorted(os.listdir(sys.argv[1]))); "
            "sys.stderr.write('e'); sys.exit(3)")
    returncode, stdout, stderr = progress.run_command([sys.executable, "-c", code, str(tmp_path)], "pg_restore of x")
    assert (returncode, stderr) == (3, "e") and ".json" in stdout
    assert os.listdir(tmp_path) == []


def test_lines_are_due_after_half_the_interval_then_every_interval(tmp_path, monkeypatch):
    monkeypatch.setenv(progress.PROGRESS_DIR_ENV, str(tmp_path))
    monkeypatch.setitem(progress._MODULE, "name", "rollback.core.rollout_undo")
    display, clock = Display(), FakeClock()
    lines = ProgressLines(display, 10, clock=clock)
    try:
        monkeypatch.setenv(progress.PROGRESS_DIR_ENV, lines.directory)
        record = progress.Record("the rollout of deployment default/demo", 300, clock=clock)
        record.update("2 of 3 updated replicas are available")
        lines.show()
        clock.now = 5.0
        record.update("2 of 3 updated replicas are available")
        lines.show()
        clock.now = 9.0
        lines.show()
        clock.now = 15.5
        record._written = None
        record.update("3 of 3")
        lines.show()
        record.close()
        clock.now = 30.0
        lines.show()
    finally:
        lines.stop()
    # Not under a worker and no host running the module: the module names the line.
    assert display.lines == [
        "waiting: rollout_undo the rollout of deployment default/demo state=2 of 3 updated replicas are available"
        " 5s (timeout 5m)",
        "waiting: rollout_undo the rollout of deployment default/demo state=3 of 3 16s (timeout 5m)"]
    assert not os.path.exists(lines.directory) and progress.PROGRESS_DIR_ENV not in os.environ


@pytest.mark.parametrize("seconds, text", [(35, "35s"), (250, "4m10s"), (600, "10m"), (3720, "1h02m")])
def test_durations_read_at_a_glance(seconds, text):
    assert duration(seconds) == text
