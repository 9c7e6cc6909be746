"""Draining a database before the swap: which sessions ended by themselves and which are left to end."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.rollback.core.plugins.module_utils import postgres_activity


class Activity:
    """pg_stat_activity as successive reads see it: one list of (pid, user) rows per read, the last one repeated."""

    superuser = True

    def __init__(self, *reads, **own):
        self.reads = list(reads)
        self.own_pids = set(own.get("own_pids", ()))

    def query(self, statement, args):
        rows = self.reads.pop(0) if len(self.reads) > 1 else self.reads[0]
        return [(pid, user, "", False, True) for pid, user in rows]


def session(pid, user="app"):
    return dict(pid=pid, user=user, application="", superuser=False, endable=True)


def test_a_session_that_leaves_before_the_first_read_of_the_drain_has_ended_by_itself():
    # Listed before ALLOW_CONNECTIONS false, gone when the drain first looks (a pool closing on its first refused
    # connection): reported as ended by itself, not lost from the report.
    server = Activity([(11, "app")], [])
    ended, left = postgres_activity.drain(server, "shop", 1, sleep=0.01, before=[session(10), session(11)])
    assert [s["pid"] for s in ended] == [10, 11] and left == []


def test_sessions_still_there_at_the_timeout_are_left_to_end_and_not_reported_as_ended():
    server = Activity([(10, "app"), (11, "app")], [(11, "app")])
    ended, left = postgres_activity.drain(server, "shop", 0.3, sleep=0.01, before=[session(10), session(11)])
    assert [s["pid"] for s in ended] == [10]
    assert [s["pid"] for s in left] == [11]


def test_our_own_backends_are_no_client_sessions_even_while_they_exit():
    # A connection the restore closed is listed until its backend has exited (asynchronously): not a client session
    # "ended by itself", nor one to terminate.
    server = Activity([(10, "app"), (12, "postgres")], [(12, "postgres")], own_pids=[12])
    ended, left = postgres_activity.drain(server, "shop", 1, sleep=0.01, before=postgres_activity.sessions(
        Activity([(10, "app"), (12, "postgres")], own_pids=[12]), "shop"))
    assert [s["pid"] for s in ended] == [10] and left == []
