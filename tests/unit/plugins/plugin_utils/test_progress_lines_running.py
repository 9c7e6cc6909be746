"""The timeline callback's running lines (plugins/plugin_utils/progress_lines.py): a task that runs long on hosts
with no progress record the controller can read (a module over SSH, a pg_restore on a remote database host) is not
silent. One line per task on the records' schedule: after half the interval, then every interval."""

import json
import os
import types

import pytest

from ansible_collections.rollback.core.plugins.plugin_utils import progress_lines


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@pytest.fixture
def progress():
    shown = []
    clock = Clock()
    lines = progress_lines.ProgressLines(types.SimpleNamespace(display=shown.append), 10, clock=clock)
    yield lines, clock, shown
    lines.stop()


def task(uuid, name, action="rollback.core.postgres_restore"):
    return types.SimpleNamespace(_uuid=uuid, action=action, get_name=lambda: name)


def test_a_long_task_without_a_record_is_shown_after_half_the_interval_then_every_interval(progress):
    lines, clock, shown = progress
    restore = task("u1", "rollback.core.database : Restore the database")
    lines.task_started("demo-postgres", restore)
    clock.now += 4.9
    lines.show()
    assert shown == [], "a short task stays quiet"
    clock.now += 0.2
    lines.show()
    assert shown == ['running: demo-postgres "rollback.core.database : Restore the database" 5s']
    clock.now += 9.5
    lines.show()
    assert len(shown) == 1, "not again before the interval"
    clock.now += 0.6
    lines.show()
    assert shown[-1] == 'running: demo-postgres "rollback.core.database : Restore the database" 15s'
    lines.task_ended("demo-postgres", restore)
    clock.now += 30
    lines.show()
    assert len(shown) == 2, "an ended task is not shown"


def test_one_line_per_task_names_three_hosts_and_counts_the_others(progress):
    lines, clock, shown = progress
    rollout = task("u2", "Roll the service back on its target", "rollback.core.target_module")
    for number in range(5):
        clock.now += 0.1
        lines.task_started("svc-%d" % number, rollout)
    clock.now += 6
    lines.show()
    assert shown == ['running: svc-0, svc-1, svc-2 (+2) "Roll the service back on its target" 6s']


def test_a_host_with_a_record_has_its_waiting_line_only(progress, tmp_path):
    lines, clock, shown = progress
    lines.task_started("demo-rds", task("u3", "Restore the database", "rollback.core.rds_snapshot_restore"))
    lines.task_started("demo-postgres", task("u4", "Restore the database"))
    # The record of the module run in the worker of demo-rds (the one host running that module).
    record = dict(pid=os.getpid(), module="rollback.core.rds_snapshot_restore", what="demo-db rds",
                  state="restoring", elapsed=6.0, timeout=3600)
    with open(os.path.join(lines.directory, "one.json"), "w") as handle:
        json.dump(record, handle)
    clock.now += 6
    lines.show()
    assert shown[0].startswith("waiting: demo-rds demo-db rds state=restoring 6s (timeout 1h00m)")
    assert shown[1:] == ['running: demo-postgres "Restore the database" 6s']


def test_a_record_host_is_found_through_its_worker_once_per_record(progress, monkeypatch):
    # Every tick (1 s) reads every record to know which hosts have one: the worker walk (the controller's children,
    # /proc) is made once per record file, not once per tick.
    lines, clock, shown = progress
    walks = []
    monkeypatch.setattr(lines, "worker_host", lambda pid: walks.append(pid) or "demo-kubernetes")
    lines.task_started("demo-kubernetes", task("u5", "Roll back", "rollback.core.target_module"))
    path = os.path.join(lines.directory, "%d-0.json" % os.getpid())
    with open(path, "w") as handle:
        json.dump(dict(pid=os.getpid(), module="rollback.core.rollout_undo", what="the rollout", state="1/2",
                       elapsed=6.0, timeout=300), handle)
    for _tick in range(3):
        clock.now += 6
        lines.show()
    assert walks == [os.getpid()]
    assert [line.split(" state=")[0] for line in shown] == ["waiting: demo-kubernetes the rollout"] * 2
    os.remove(path)
    lines.show()
    assert lines._hosts == {}, "a record gone is forgotten"


def test_a_host_whose_record_has_just_ended_is_not_shown_running_while_its_result_comes_back(progress, tmp_path):
    # The wait is over (its record gone) but the task has not ended on the controller yet: the module exits, the
    # worker sends its result, the strategy reads it. Under load that takes seconds; the task is not shown
    # running again unless it stays quiet for a whole interval (a long step after the wait).
    lines, clock, shown = progress
    lines.task_started("demo-rds", task("u6", "Restore the database", "rollback.core.rds_snapshot_restore"))
    path = os.path.join(lines.directory, "one.json")
    with open(path, "w") as handle:
        json.dump(dict(pid=os.getpid(), module="rollback.core.rds_snapshot_restore", what="demo-db rds",
                       state="available", elapsed=6.0, timeout=3600), handle)
    clock.now += 6
    lines.show()
    os.remove(path)
    clock.now += 9.9
    lines.show()
    assert [line.split(" ")[0] for line in shown] == ["waiting:"]
    clock.now += 0.2
    lines.show()
    assert shown[-1] == 'running: demo-rds "Restore the database" 16s'
