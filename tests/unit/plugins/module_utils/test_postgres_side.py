"""How a re-run recognises what an earlier run left: side databases by their label, the swap by the old database's."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.rollback.core.plugins.module_utils.postgres_side import already_replaced, side_databases


class Catalog:
    """Answers the pg_database query the way PostgreSQL would for these rows (datname ~ pattern)."""

    def __init__(self, rows):
        self.rows = rows

    def query(self, statement, args):
        return [row for row in self.rows if re.search(args[0], row[0])]


def test_side_databases_left_by_earlier_runs_are_found_by_name_and_label():
    catalog = Catalog([
        ("shop_rb_20250101000000", "rollback.core side database of shop [building] restored from /d/a.dump size=1 "
                                   "mtime=2"),
        ("shop_rb_20250101000001", "rollback.core side database of shop [failed] restored from /d/a.dump size=1 mtime=2"
                                   " -- failed: verify x failed: got 3, expected 4"),
        ("shop_rb_20250101000002", "rollback.core side database of shop [complete] restored from /d/b.dump size=1 "
                                   "mtime=2"),
        ("shop_rb_20250101000003", None),
        ("shop_rb_20250101000004", "somebody else's database with a similar name"),
        ("shop_rb_2025", "rollback.core side database of shop [building] restored from x"),
        ("shopx_rb_20250101000000", "rollback.core side database of shopx [building] restored from x"),
    ])
    assert side_databases(catalog, "shop") == [
        dict(name="shop_rb_20250101000000", source="/d/a.dump size=1 mtime=2", state="building"),
        dict(name="shop_rb_20250101000001", source="/d/a.dump size=1 mtime=2", state="failed"),
        dict(name="shop_rb_20250101000002", source="/d/b.dump size=1 mtime=2", state="complete"),
        dict(name="shop_rb_20250101000003", source=None, state="building"),
    ]


def test_the_live_database_is_already_the_restored_one_only_with_its_oid_and_the_same_dump():
    label = ("rollback.core: replaced by database oid 4242 restored from /d/a.dump size=1 mtime=2 at 20250101000000; "
             "its own comment was: orders")
    catalog = Catalog([("shop_pre_rollback_20250101000000", label)])
    assert already_replaced(catalog, "shop", 4242, "/d/a.dump size=1 mtime=2") == "shop_pre_rollback_20250101000000"
    assert already_replaced(catalog, "shop", 4243, "/d/a.dump size=1 mtime=2") is None, "restored again since"
    assert already_replaced(catalog, "shop", 4242, "/d/a.dump size=1 mtime=3") is None, "another dump"
