from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

import pytest

from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError
from ansible_collections.rollback.core.plugins.module_utils.env_file import newest_backup, parse_env


def test_parse_reads_keys_skips_comments_and_export():
    text = "# comment\n\nexport A=1\nB = two words \nDB_PASSWORD=p=w\n"
    assert parse_env(text, "f") == {"A": "1", "B": "two words", "DB_PASSWORD": "p=w"}


def test_malformed_line_is_named_and_its_value_hidden():
    with pytest.raises(RollbackError) as raised:
        parse_env("A=1\n1BAD=hunter2\n", ".env")
    assert raised.value.msg == ".env line 2 is not KEY=VALUE: 1BAD=..."


def test_newest_backup_by_dated_name(tmp_path):
    for name in (".env.backup-20251110-090000", ".env.backup-20251112-101500", ".env.pre-rollback-20251113-000000",
                 "other.backup-20991231-000000"):
        (tmp_path / name).write_text("A=1\n")
    assert newest_backup(str(tmp_path), ".env.backup-*") == os.path.join(str(tmp_path), ".env.backup-20251112-101500")
    with pytest.raises(RollbackError, match="no backup matching nope-\\* in"):
        newest_backup(str(tmp_path), "nope-*")
