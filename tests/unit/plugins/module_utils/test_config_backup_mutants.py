"""plugins/module_utils/config_backup.py: the exact text of a saved backup (what backup_take writes and what
save_current_to leaves beside the backup it pairs), so that the same state always gives the same bytes (the
checksum of a backup stays the same, a diff between two saves shows only the changed keys). Kills the layout
mutants of dump_backup (./dev mutate). The etcdctl document has the fields of `etcdctl get --prefix -w json`
(etcd's etcdctl/ctlv3/command/printer_json.go prints the RangeResponse: header, kvs, count)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import os

import pytest

from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError
from ansible_collections.rollback.core.plugins.module_utils.config_backup import (
    check_save_dir, dump_backup, parse_backup)

DATA = {"/app/b": "two", "/app/a": "1"}


def b64(text):
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def test_object_layout_keys_sorted_two_space_indent():
    assert dump_backup(DATA, "object") == '{\n  "/app/a": "1",\n  "/app/b": "two"\n}\n'


def test_list_layout_keeps_key_before_value():
    # Items in key order, each item "key" then "value" as written (not sorted: "key" < "value" either way).
    assert dump_backup(DATA, "list") == (
        '[\n  {\n    "key": "/app/a",\n    "value": "1"\n  },\n  {\n    "key": "/app/b",\n    "value": "two"\n'
        '  }\n]\n')


def test_etcdctl_layout():
    assert dump_backup(DATA, "etcdctl") == (
        '{\n  "count": 2,\n  "header": {},\n  "kvs": [\n'
        '    {\n      "key": "%s",\n      "value": "%s"\n    },\n'
        '    {\n      "key": "%s",\n      "value": "%s"\n    }\n  ]\n}\n') % (
        b64("/app/a"), b64("1"), b64("/app/b"), b64("two"))


def test_the_same_state_gives_the_same_bytes_whatever_the_order_it_was_read_in():
    for fmt in ("object", "list", "etcdctl"):
        reordered = dict(reversed(list(DATA.items())))
        assert dump_backup(reordered, fmt) == dump_backup(DATA, fmt)
        assert parse_backup(dump_backup(DATA, fmt), "saved") == (fmt, DATA)


def test_non_ascii_values_round_trip():
    data = {"/app/greeting": u"gr\u00fc\u00df dich"}
    for fmt in ("object", "list", "etcdctl"):
        assert parse_backup(dump_backup(data, fmt), "saved") == (fmt, data)


@pytest.mark.parametrize("mode,refused", [
    (0o700, False),
    (0o500, True),  # r-x: no new file can be created in it
    (0o600, True),  # rw-: no file in it can be reached (open needs search permission on the directory)
])
def test_the_save_directory_needs_write_and_search_permission(tmp_path, monkeypatch, mode, refused):
    # access(2) as the kernel answers a non-root owner: every asked bit must be in the owner's permissions. Creating
    # a file needs write and search (execute) permission on its directory (POSIX open(2), path resolution(7)).
    directory = tmp_path / "dir"
    directory.mkdir()

    def access(path, asked):
        bits = (os.R_OK, 0o400), (os.W_OK, 0o200), (os.X_OK, 0o100)
        return all(mode & permission for flag, permission in bits if asked & flag)

    monkeypatch.setattr("os.access", access)
    if refused:
        with pytest.raises(RollbackError, match="save_current_to: directory .*/dir is not writable"):
            check_save_dir(str(directory / "saved.json"))
    else:
        check_save_dir(str(directory / "saved.json"))
