"""The file toolkit: atomic writes (mode, owner, fsync, no debris), the previous copy kept, one UTC format."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import os
import stat

import pytest

from ansible_collections.rollback.core.plugins.module_utils import toolkit
from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError


def test_one_utc_format_for_contents_and_one_for_names():
    moment = datetime.datetime(2025, 11, 12, 10, 15, 30, tzinfo=datetime.timezone.utc)
    assert toolkit.utc_iso(moment) == "2025-11-12T10:15:30Z"
    assert toolkit.utc_stamp(moment) == "20251112T101530Z"
    assert toolkit.utc_iso(moment.timestamp()) == "2025-11-12T10:15:30Z"
    east = moment.astimezone(datetime.timezone(datetime.timedelta(hours=2)))
    assert toolkit.utc_stamp(east) == "20251112T101530Z", "converted to UTC, never formatted in local time"
    assert toolkit.utc_iso().endswith("Z")


def test_atomic_write_keeps_the_mode_of_the_replaced_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "app.env"
    path.write_text("A=1\n")
    path.chmod(0o640)
    assert toolkit.atomic_write(str(path), "A=2\n") == str(path)
    assert path.read_text() == "A=2\n" and stat.S_IMODE(path.stat().st_mode) == 0o640
    assert os.listdir(tmp_path) == ["app.env"]


def test_atomic_write_given_mode_bytes_and_new_files(tmp_path):
    secret = tmp_path / "saved.json"
    toolkit.atomic_write(str(secret), b"{}", mode=0o600)
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600 and secret.read_bytes() == b"{}"
    fresh = tmp_path / "fresh"
    toolkit.atomic_write(str(fresh), "x")
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o644 & ~umask


def test_atomic_write_failure_names_the_file_and_changes_nothing(tmp_path):
    with pytest.raises(RollbackError, match="cannot write conf_file %s/absent/x.conf" % tmp_path):
        toolkit.atomic_write(str(tmp_path / "absent" / "x.conf"), "x", what="conf_file")
    assert os.listdir(tmp_path) == []


def test_a_temporary_is_removed_when_the_rename_fails(tmp_path, monkeypatch):
    path = tmp_path / "f"
    path.write_text("old")

    def refuse(source, target):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(toolkit.os, "rename", refuse)
    with pytest.raises(RollbackError, match="Input/output error"):
        toolkit.atomic_write(str(path), "new")
    assert os.listdir(tmp_path) == ["f"] and path.read_text() == "old"


def test_save_previous_keeps_mode_and_time_and_never_overwrites(tmp_path):
    path = tmp_path / "up.conf"
    path.write_text("v1")
    path.chmod(0o600)
    os.utime(path, (1000000000, 1000000000))
    moment = datetime.datetime(2025, 11, 12, 10, 0, 0, tzinfo=datetime.timezone.utc)
    first = toolkit.save_previous(str(path), moment=moment)
    second = toolkit.save_previous(str(path), moment=moment)
    assert os.path.basename(first) == "up.conf.pre-rollback-20251112T100000Z"
    assert os.path.basename(second) == "up.conf.pre-rollback-20251112T100000Z-2"
    saved = os.stat(first)
    assert stat.S_IMODE(saved.st_mode) == 0o600 and int(saved.st_mtime) == 1000000000
    hidden = toolkit.save_previous(str(path), hidden=True, moment=moment)
    assert os.path.basename(hidden).startswith(".up.conf.pre-rollback-")
    with pytest.raises(RollbackError, match="directory %s/elsewhere does not exist" % tmp_path):
        toolkit.save_previous(str(path), str(tmp_path / "elsewhere"))
