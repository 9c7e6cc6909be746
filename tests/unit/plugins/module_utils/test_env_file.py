from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError
from ansible_collections.rollback.core.plugins.module_utils.env_file import parse_env


def test_parse_reads_keys_skips_comments_and_export():
    text = "# comment\n\nexport A=1\nB = two words \nDB_PASSWORD=p=w\n"
    assert parse_env(text, "f") == {"A": "1", "B": "two words", "DB_PASSWORD": "p=w"}


def test_malformed_line_is_named_and_its_value_hidden():
    with pytest.raises(RollbackError) as raised:
        parse_env("A=1\n1BAD=hunter2\n", ".env")
    assert raised.value.msg == ".env line 2 is not KEY=VALUE: 1BAD=..."
