"""postgres_replication: what a swap by rename would leave behind (logical slots belong to the database's OID,
pg_replication_slots.database; subscriptions to pg_subscription.subdbid: PostgreSQL docs, "System Views" and
"System Catalogs"), and the slot recreation, against a fake server. pg_create_logical_replication_slot takes
(slot_name, plugin, temporary, twophase) (docs, "Replication Management Functions")."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError
from ansible_collections.rollback.core.plugins.module_utils.postgres_replication import (
    check, publication_differences, publications, read, recreate)


class Connection:
    def __init__(self, log, rows=None):
        self.log = log
        self.rows = rows or []
        self.closed = False

    def execute(self, statement, args=None):
        self.log.append((statement, args))
        return [("0/3000060",)]

    def query(self, statement, args=None):
        self.log.append((statement, args))
        return self.rows.pop(0)

    def close(self):
        self.closed = True


class Server:
    def __init__(self, superuser=False, replication=False, rows=None):
        self.superuser, self.replication, self.user = superuser, replication, "rollback"
        self.log, self.connections = [], []
        self.rows = rows or []

    def query(self, statement, args=None):
        self.log.append((statement, args))
        return self.rows.pop(0)

    def execute(self, statement, args=None):
        self.log.append((statement, args))

    def connect(self, database):
        connection = Connection(self.log)
        connection.database = database
        self.connections.append(connection)
        return connection


SLOT = dict(name="cdc", plugin="pgoutput", two_phase=False, active=True)
NOTHING = dict(slots=[], subscriptions=[])


def test_read_asks_by_name_for_slots_and_by_oid_for_subscriptions():
    server = Server(rows=[[("cdc", "pgoutput", False, True)], [("sub", True)]])
    assert read(server, "app", 16384) == dict(slots=[SLOT], subscriptions=[dict(name="sub", enabled=True)])
    assert [args for _statement, args in server.log] == [("app",), (16384,)]


def test_nothing_to_carry_is_fine_in_every_mode():
    for mode in ("refuse", "recreate", "ignore"):
        assert check(Server(), NOTHING, mode, "app") == []


def test_refuse_names_the_slots():
    with pytest.raises(RollbackError, match="^database app has logical replication slot.s. cdc, debezium: they belong "
                                            "to the database's OID.*; nothing was changed$"):
        check(Server(), dict(NOTHING, slots=[SLOT, dict(SLOT, name="debezium")]), "refuse", "app")


def test_subscriptions_are_refused_unless_ignored():
    state = dict(NOTHING, subscriptions=[dict(name="sub", enabled=True)])
    for mode in ("refuse", "recreate"):
        with pytest.raises(RollbackError, match="^database app has subscription.s. sub: .*replication=ignore"):
            check(Server(superuser=True), state, mode, "app")


def test_recreate_needs_the_replication_attribute():
    state = dict(NOTHING, slots=[SLOT])
    with pytest.raises(RollbackError, match="^replication=recreate: rollback needs the REPLICATION attribute"):
        check(Server(), state, "recreate", "app")
    assert check(Server(replication=True), state, "recreate", "app") == []
    assert check(Server(superuser=True), state, "recreate", "app") == []


def test_ignore_says_what_stays_behind():
    state = dict(slots=[SLOT], subscriptions=[dict(name="sub", enabled=False)])
    assert check(Server(), state, "ignore", "app") == [
        "left on the old database (replication=ignore): logical replication slot(s) cdc",
        "left on the old database (replication=ignore): subscription(s) sub"]


def test_recreate_drops_then_creates_on_the_restored_database():
    server = Server(replication=True)
    created = recreate(server, [SLOT, dict(SLOT, name="tp", two_phase=1)], "app")
    assert created == dict(cdc="0/3000060", tp="0/3000060")
    assert [args for _statement, args in server.log] == [
        ("cdc",), ("cdc", "pgoutput", False), ("tp",), ("tp", "pgoutput", True)]
    assert server.log[3][1][2] is True  # a boolean for the twophase argument, whatever the row held
    assert server.log[0][0] == "SELECT pg_drop_replication_slot(%s)"
    assert all(c.database == "app" and c.closed for c in server.connections)


def test_publications_and_their_differences():
    row = ("pub", "app", False, True, True, True, True, False, ["public.orders"])
    live = publications(Connection([], rows=[[row]]))
    assert live == dict(pub=dict(owner="app", all_tables=False, insert=True, update=True, delete=True, truncate=True,
                                 via_root=False, tables=["public.orders"]))
    changed = dict(pub=dict(live["pub"], tables=[]))
    assert publication_differences(live, live) == []
    assert publication_differences(live, {}) == ["publication pub is not in the dump"]
    assert publication_differences(live, changed)[0].startswith("publication pub differs: ")
