from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.rollback.core.plugins.module_utils.postgres_privileges import compare

BEFORE = {("schema", "app"): {"app": ("CREATE", "USAGE"), "ro": ("USAGE",), "public": ()},
          ("table", "app.orders"): {"app": ("SELECT", "UPDATE"), "ro": ("SELECT",)},
          ("table", "app.new_since_the_dump"): {"app": ("SELECT",)}}


def test_equal_privileges_compare_equal():
    assert compare(BEFORE, BEFORE)["differences"] == []


def test_lost_and_gained_privileges_are_named_per_role_and_object():
    after = {("schema", "app"): {"app": ("CREATE", "USAGE"), "ro": (), "public": ("USAGE",)},
             ("table", "app.orders"): {"app": ("SELECT", "UPDATE"), "ro": ("SELECT",)},
             ("table", "app.dropped_since"): {"app": ("SELECT",)}}
    result = compare(BEFORE, after)
    assert result["differences"] == ["public gained USAGE on schema app", "ro lost USAGE on schema app"]
    assert (result["compared"], result["only_before"], result["only_after"]) == (2, 1, 1)
