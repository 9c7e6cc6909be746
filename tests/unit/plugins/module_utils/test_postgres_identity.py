"""Settings are re-applied as pg_dump writes them (src/bin/pg_dump/dumputils.c makeAlterConfigCommand):
a GUC_LIST_QUOTE value split as SplitGUCList reads it, double quotes removed."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest
from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError
from ansible_collections.rollback.core.plugins.module_utils.postgres_identity import split_guc_list


@pytest.mark.parametrize("raw,expected", [
    ('"$user", public', ["$user", "public"]),
    ("app, public", ["app", "public"]),
    ('"My Schema","a""b" ,  c ', ["My Schema", 'a"b', "c"]),
    ("", []),
    ("single", ["single"]),
])
def test_split_guc_list(raw, expected):
    assert split_guc_list(raw) == expected


@pytest.mark.parametrize("raw", ['"open', '"a" b'])
def test_split_guc_list_refuses_what_postgres_would_not_have_stored(raw):
    with pytest.raises(RollbackError):
        split_guc_list(raw)
