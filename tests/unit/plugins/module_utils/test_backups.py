"""The one backup-selection rule and the data-loss window, shared by every restoring module."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import os

import pytest

from ansible_collections.rollback.core.plugins.module_utils import backups
from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError

UTC = datetime.timezone.utc


def test_newest_backup_by_dated_name_never_a_saved_copy(tmp_path):
    for name in (".env.backup-20251110-090000", ".env.backup-20251112-101500", ".env.backup-20251113.pre-rollback-x",
                 "other.backup-20991231-000000"):
        (tmp_path / name).write_text("A=1\n")
    os.utime(tmp_path / ".env.backup-20251110-090000", (4102444800, 4102444800))  # touched later: name wins
    assert backups.newest_backup(str(tmp_path), ".env.backup-*") == str(tmp_path / ".env.backup-20251112-101500")


def test_no_match_and_unreadable_directories_are_one_clear_error(tmp_path):
    with pytest.raises(RollbackError, match=r"^no dump matching nope-\* in .*: nothing was changed$"):
        backups.newest_backup(str(tmp_path), "nope-*", "dump")
    with pytest.raises(RollbackError, match="cannot list the backup directory %s/absent" % tmp_path):
        backups.newest_backup(str(tmp_path / "absent"), "*")


def test_a_given_backup_wins_and_a_directory_is_needed_otherwise(tmp_path):
    (tmp_path / "a.json").write_text("{}")
    assert backups.chosen_backup("/given", str(tmp_path), "*") == "/given"
    assert backups.chosen_backup(None, str(tmp_path), None) == str(tmp_path / "a.json")
    with pytest.raises(RollbackError, match="give the dump, or the directory to take the newest from"):
        backups.chosen_backup(None, None, "*", "dump")


def test_data_loss_window_in_the_one_utc_format():
    taken = datetime.datetime(2025, 11, 12, 10, 0, 0, tzinfo=UTC)
    now = datetime.datetime(2025, 11, 12, 10, 15, 30, tzinfo=UTC)
    assert backups.data_loss_window(taken, now) == dict(start="2025-11-12T10:00:00Z", end="2025-11-12T10:15:30Z",
                                                        seconds=930)
    assert backups.data_loss_window(taken.timestamp(), now)["seconds"] == 930
    assert backups.data_loss_window(now, taken)["seconds"] == 0, "a backup from the future loses nothing, never < 0"


def test_file_window_from_the_file_time_unless_the_backup_says(tmp_path):
    dump = tmp_path / "demo.dump"
    dump.write_text("x")
    os.utime(dump, (1762941600, 1762941600))  # 2025-11-12T10:00:00Z
    now = datetime.datetime(2025, 11, 12, 11, 0, 0, tzinfo=UTC)
    assert backups.file_window(str(dump), now=now)["start"] == "2025-11-12T10:00:00Z"
    stated = datetime.datetime(2025, 11, 12, 9, 0, 0, tzinfo=UTC)
    assert backups.file_window(str(dump), taken_at=stated, now=now)["seconds"] == 7200


class FakeModule:
    def __init__(self, **params):
        self.params = params


def test_restore_newest_resolves_the_backup_and_reports_it(tmp_path):
    (tmp_path / "demo-20251111.dump").write_text("old")
    (tmp_path / "demo-20251112.dump").write_text("new")
    module = FakeModule(dump=None, dump_dir=str(tmp_path), dump_pattern="demo-*.dump")
    seen = []
    result = backups.restore_newest(module, lambda m: seen.append(m.params["dump"]) or {"changed": True}, "dump",
                                    "dump_dir", "dump_pattern", "dump", window=True)
    assert seen == [str(tmp_path / "demo-20251112.dump")]
    assert result["backup_used"] == seen[0] and set(result["data_loss_window"]) == {"start", "end", "seconds"}
    plain = backups.restore_newest(FakeModule(backup=seen[0], backup_dir=None, backup_pattern="*"),
                                   lambda m: {"changed": False}, "backup", "backup_dir", "backup_pattern", "backup")
    assert plain == {"changed": False, "backup_used": seen[0]}
