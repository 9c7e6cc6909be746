"""pgBackRest info parsing and the choice of the backup set, against real output captured from the lab's
pgBackRest 2.45 (fixtures/pgbackrest_*.json: ``info --output=json`` after a full and an incremental backup, a
``repo-ls --output=json`` of the archive directory, and ``info`` of a stanza that does not exist). The JSON shape
is pgBackRest's documented one: https://pgbackrest.org/command.html#command-info (Info JSON output) and
https://pgbackrest.org/command.html#command-repo-ls."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os

import pytest

from ansible_collections.rollback.core.plugins.module_utils import pgbackrest
from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")
FULL_END, INCR_END, NEWEST_WAL = 1796383456, 1796383510, 1796383510


def fixture(name):
    with open(os.path.join(FIXTURES, name)) as handle:
        return json.load(handle)


@pytest.fixture
def info():
    return pgbackrest.stanza_info(fixture("pgbackrest_info_lab.json"), "lab")


def test_backups_oldest_first_with_their_time_range(info):
    sets = pgbackrest.backups(info)
    assert [(s["label"], s["type"], s["start"], s["stop"]) for s in sets] == [
        ("20261204-112412F", "full", 1796383452, FULL_END),
        ("20261204-112412F_20261204-112508I", "incr", 1796383508, INCR_END)]
    assert sets[0]["archive_start"] == "000000010000000000000002"


def test_archive_min_max_of_the_current_database(info):
    archive = pgbackrest.newest_archive(info)
    assert (archive["id"], archive["min"], archive["max"]) == (
        "15-1", "000000010000000000000001", "000000010000000000000005")


def test_newest_wal_time_from_repo_ls(info):
    listing = fixture("pgbackrest_repo_ls_lab.json")
    assert pgbackrest.wal_time(listing, "000000010000000000000005") == NEWEST_WAL
    # the .backup history file of segment 2 is not segment 2 itself
    assert pgbackrest.wal_time(listing, "000000010000000000000002") == 1796383456
    assert pgbackrest.wal_time(listing, "000000010000000000000009") is None


@pytest.mark.parametrize("target, label", [
    (FULL_END, "20261204-112412F"),  # the full backup is consistent at its end
    (INCR_END - 1, "20261204-112412F"),  # before the incremental ended: the full one, with the WAL replayed
    (INCR_END, "20261204-112412F_20261204-112508I"),
])
def test_choose_the_newest_backup_that_ended_before_the_target(info, target, label):
    assert pgbackrest.choose(info, target, NEWEST_WAL)["label"] == label


def test_target_before_the_oldest_backup_is_refused(info):
    with pytest.raises(RollbackError, match="before the end of the oldest backup of stanza lab "
                                            r"\(20261204-112412F, 2026-12-04T11:24:16Z\)"):
        pgbackrest.choose(info, FULL_END - 1, NEWEST_WAL)


def test_target_after_the_newest_archived_wal_is_refused(info):
    with pytest.raises(RollbackError, match="after the newest WAL archived for stanza lab"):
        pgbackrest.choose(info, NEWEST_WAL + 1, NEWEST_WAL)


def test_unknown_stanza_and_stanza_without_backup_are_refused():
    with pytest.raises(RollbackError, match="stanza nope does not exist in the repository "
                                            r"\(missing stanza path\)"):
        pgbackrest.stanza_info(fixture("pgbackrest_info_missing_stanza.json"), "nope")
    with pytest.raises(RollbackError, match="stanza other does not exist"):
        pgbackrest.stanza_info(fixture("pgbackrest_info_lab.json"), "other")
    empty = dict(fixture("pgbackrest_info_lab.json")[0], backup=[], status=dict(code=2, message="no valid backups"))
    with pytest.raises(RollbackError, match=r"stanza lab has no backup \(no valid backups\)"):
        pgbackrest.stanza_info([empty], "lab")


def test_argv_and_restore_arguments(info):
    repo = pgbackrest.PgBackRest("/etc/pgb.conf", "lab", [])
    assert repo.argv("info", "--output=json") == ["pgbackrest", "--config=/etc/pgb.conf", "--stanza=lab", "info",
                                                  "--output=json"]
    chosen = pgbackrest.choose(info, INCR_END + 0.25, NEWEST_WAL + 1)
    assert pgbackrest.restore_args(chosen, INCR_END + 0.25, "/s/data", "/s/ts") == [
        "--set=20261204-112412F_20261204-112508I", "--type=time", "--target=2026-12-04 11:25:10.250000+00",
        "--target-action=promote", "--pg1-path=/s/data", "--tablespace-map-all=/s/ts", "--archive-mode=off"]


def test_runs_as_the_os_user_only_when_root(monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    assert pgbackrest.as_user(["pgbackrest"], "postgres") == ["runuser", "-u", "postgres", "--", "pgbackrest"]
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert pgbackrest.as_user(["pgbackrest"], "postgres") == ["pgbackrest"]


def test_the_tablespaces_of_a_backup_set():
    # Captured from pgBackRest 2.45: `info --set=<label> --output=json` of a cluster with one tablespace made before
    # the full backup; `tablespace` is null for a set without one (pgbackrest_info_lab.json has no --set entries).
    document = fixture("pgbackrest_info_set_tablespace.json")
    label = document[0]["backup"][-1]["label"]
    assert pgbackrest.set_tablespaces(document, "cap", label) == [
        dict(destination="/var/tmp/pgbrcap/ts", name="rbt_ts", oid=16384)]
    document[0]["backup"][-1]["tablespace"] = None
    assert pgbackrest.set_tablespaces(document, "cap", label) == []
    with pytest.raises(RollbackError, match="stanza cap has no backup set 20990101-000000F; nothing was changed"):
        pgbackrest.set_tablespaces(document, "cap", "20990101-000000F")
