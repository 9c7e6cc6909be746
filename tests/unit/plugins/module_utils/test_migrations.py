"""The migration decision: (version table revisions, target graph[, current graph]) -> status and level."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

import pytest

from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError
from ansible_collections.rollback.core.plugins.module_utils.migrations import (
    decide,
    graph_of,
    heads_of,
    load_release,
    oldest_first,
    recommendation,
    resolve,
)

RELEASES = os.path.join(os.path.dirname(__file__), "..", "..", "..", "integration", "files", "alembic")

R100 = {"a1": ()}
R101 = {"a1": (), "b2": ("a1",)}
R102 = {"a1": (), "b2": ("a1",), "c3": ("b2",)}
# two branches merged: a1 -> (x1, y1) -> m2
MERGED = {"a1": (), "x1": ("a1",), "y1": ("a1",), "m2": ("x1", "y1")}
BRANCHED = {"a1": (), "x1": ("a1",), "y1": ("a1",)}


@pytest.mark.parametrize("db,target,current,status,unknown,pending,level", [
    (["a1"], R100, None, "in_sync", [], [], 1),
    (["b2"], R101, None, "in_sync", [], [], 1),
    (["b2"], R100, None, "ahead", ["b2"], [], 3),
    (["b2"], R100, R101, "ahead", ["b2"], [], 3),
    # the version table only holds the newest: the current graph tells every migration the undone release ran
    (["c3"], R100, None, "ahead", ["c3"], [], 3),
    (["c3"], R100, R102, "ahead", ["b2", "c3"], [], 3),
    # a revision neither release knows is still listed; what the target lacks is then unknown
    (["zz"], R100, R101, "ahead", ["zz"], [], 3),
    # the undone release branched off before the target's head: the target's b2 is still to apply
    (["x1"], R101, {"a1": (), "x1": ("a1",)}, "ahead", ["x1"], ["b2"], 3),
    (["a1"], R101, None, "behind", [], ["b2"], 1),
    (["a1"], R102, None, "behind", [], ["b2", "c3"], 1),
    ([], R101, None, "behind", [], ["a1", "b2"], 1),
    (None, R101, None, "no_version_table", [], [], 1),
    (["m2"], MERGED, None, "in_sync", [], [], 1),
    (["x1"], MERGED, None, "behind", [], ["y1", "m2"], 1),
    (["x1", "y1"], BRANCHED, None, "in_sync", [], [], 1),
    (["x1"], BRANCHED, None, "behind", [], ["y1"], 1),
    (["m2"], BRANCHED, MERGED, "ahead", ["m2"], [], 3),
])
def test_decide(db, target, current, status, unknown, pending, level):
    decision = decide(db, target, current)
    assert decision["status"] == status
    assert decision["unknown_revisions"] == unknown
    assert decision["pending_revisions"] == pending
    assert decision["recommended_level"] == level
    assert decision["target_heads"] == heads_of(target)
    assert decision["current_revisions"] == (None if db is None else sorted(db))


def test_heads_and_order():
    assert heads_of(R102) == ["c3"]
    assert heads_of(BRANCHED) == ["x1", "y1"]
    assert oldest_first(R102, {"c3", "a1", "b2"}) == ["a1", "b2", "c3"]
    assert oldest_first(MERGED, {"m2", "x1", "y1", "a1"}) == ["a1", "x1", "y1", "m2"]
    assert oldest_first(R100, {"zz", "a1"}) == ["a1", "zz"]


def test_recommendation_for_ahead_quotes_the_runbooks():
    text = recommendation(decide(["c3"], R100, R102), {"b2": "add email", "c3": "drop name"}, "1.0.0")
    assert "b2 (add email), c3 (drop name)" in text
    assert "Database migration ran | Medium | Level 3 rollback + restore" in text
    assert "create a new forward migration that undoes the changes" in text
    assert "Do NOT run `alembic downgrade` in production" in text
    assert "restore the pre-deploy backup (Level 3)" in text


@pytest.mark.parametrize("db,target,words", [
    (["a1"], R100, "no database step is needed"),
    (["a1"], R101, "pending b2"),
    (None, R101, "no version table alembic_version"),
])
def test_recommendation_other_states(db, target, words):
    assert words in recommendation(decide(db, target), {})


def test_graph_of_the_test_releases():
    assert graph_of(load_release(os.path.join(RELEASES, "1.0.0"), "script_location")) == R100
    assert graph_of(load_release(os.path.join(RELEASES, "1.0.1"), "script_location")) == R101


def test_resolve():
    release = load_release(os.path.join(RELEASES, "1.0.1"), "script_location")
    assert resolve(release, "b2", "script_location") == ["b2"]
    assert resolve(release, "head", "script_location") == ["b2"]
    with pytest.raises(RollbackError, match="revision zz is not in script_location"):
        resolve(release, "zz", "script_location")


def test_not_a_release(tmp_path):
    with pytest.raises(RollbackError, match="is not a directory"):
        load_release(str(tmp_path / "missing"), "script_location")
    with pytest.raises(RollbackError, match=r"not an Alembic migrations directory \(no env.py or versions\)"):
        load_release(str(tmp_path), "script_location")
    (tmp_path / "env.py").write_text("")
    (tmp_path / "versions").mkdir()
    (tmp_path / "versions" / "x.py").write_text("revision = 'x'\ndown_revision = (\n")
    with pytest.raises(RollbackError, match="cannot read its migrations: SyntaxError"):
        load_release(str(tmp_path), "script_location")
