from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest
from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError
from ansible_collections.rollback.core.plugins.module_utils.postgres_dump import detect_format


@pytest.mark.parametrize("content,expected", [
    (b"PGDMP\x01\x0e\x00", "custom"),
    (b"--\n-- PostgreSQL database dump\n--\n\nSET statement_timeout = 0;\n", "plain"),
    (b"BEGIN;\nCREATE TABLE t (id int);\nCOMMIT;\n", "plain"),
    (b"\xef\xbb\xbfSELECT 1;\n".replace(b"\xef\xbb\xbf", b""), "plain"),
])
def test_formats(tmp_path, content, expected):
    path = tmp_path / "dump"
    path.write_bytes(content)
    assert detect_format(str(path)) == expected


@pytest.mark.parametrize("content,message", [
    (b"", "is empty"),
    (b"\x00\x01garbage" * 100, "neither a pg_dump archive nor SQL text"),  # psql would stop at the NUL: empty
    (b"SELECT 1;\x00\x00\x00", "neither a pg_dump archive nor SQL text"),
    (b"hello, this is a README, not a dump\n", "no SQL statement"),
    (b"\xff\xfe\xfd" * 100, "neither a pg_dump archive nor SQL text"),
])
def test_not_a_dump(tmp_path, content, message):
    path = tmp_path / "dump"
    path.write_bytes(content)
    with pytest.raises(RollbackError, match=message):
        detect_format(str(path))


def test_directory_without_toc(tmp_path):
    with pytest.raises(RollbackError, match="without toc.dat"):
        detect_format(str(tmp_path))
    (tmp_path / "toc.dat").write_bytes(b"PGDMP")
    assert detect_format(str(tmp_path)) == "directory"
