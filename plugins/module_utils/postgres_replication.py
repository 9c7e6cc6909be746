# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Logical replication on the live database: what a swap by rename would leave behind, and what to do about it.

A logical replication slot belongs to the database's OID (``pg_replication_slots.database``),
so after the swap it stays on the old database, keeps pinning WAL, and the consumer
that reconnects to the database's name is refused ("replication slot was not created
in this database"). A subscription (``pg_subscription.subdbid``) also stays with the old
database and keeps applying changes there. Publications are objects inside the database:
the dump carries them, and they are compared after the restore.

``replication``: ``refuse`` (default) fails before any change when the database has a
logical slot or a subscription; ``recreate`` drops each logical slot after the swap and
creates it again, same name, plugin and two_phase, on the swapped-in database (the
consumer starts again from the new slot's position, returned); subscriptions cannot be
moved without a resynchronisation and are refused in this mode too; ``ignore`` leaves
them on the old database and says so.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError

MODES = ("refuse", "recreate", "ignore")

_PUBLICATIONS = """
SELECT p.pubname, pg_get_userbyid(p.pubowner), p.puballtables, p.pubinsert, p.pubupdate, p.pubdelete,
       p.pubtruncate, p.pubviaroot,
       ARRAY(SELECT quote_ident(t.schemaname) || '.' || quote_ident(t.tablename) FROM pg_publication_tables t
             WHERE t.pubname = p.pubname ORDER BY 1)
FROM pg_publication p ORDER BY 1
"""


def read(server, database, oid):
    slots = [dict(name=name, plugin=plugin, two_phase=two_phase, active=active)
             for name, plugin, two_phase, active in server.query(
                 "SELECT slot_name, plugin, two_phase, active FROM pg_replication_slots "
                 "WHERE slot_type = 'logical' AND database = %s ORDER BY 1", (database,))]
    subscriptions = [dict(name=name, enabled=enabled) for name, enabled in server.query(
        "SELECT subname, subenabled FROM pg_subscription WHERE subdbid = %s ORDER BY 1", (oid,))]
    return dict(slots=slots, subscriptions=subscriptions)


def publications(connection):
    return dict((row[0], dict(owner=row[1], all_tables=row[2], insert=row[3], update=row[4], delete=row[5],
                              truncate=row[6], via_root=row[7], tables=list(row[8])))
                for row in connection.query(_PUBLICATIONS))


def check(server, state, mode, database):
    """Refuse before any change what ``mode`` does not handle; return lines for the report."""
    slots = ", ".join(s["name"] for s in state["slots"])
    subscriptions = ", ".join(s["name"] for s in state["subscriptions"])
    if mode == "ignore":
        return ["left on the old database (replication=ignore): %s" % what
                for what in (slots and "logical replication slot(s) %s" % slots,
                             subscriptions and "subscription(s) %s" % subscriptions) if what]
    if state["subscriptions"]:
        raise RollbackError(
            "database %s has subscription(s) %s: they would stay with the old database and keep applying changes "
            "there, and cannot be moved without a resynchronisation; disable or drop them first, or set "
            "replication=ignore to leave them; nothing was changed" % (database, subscriptions))
    if state["slots"] and mode == "refuse":
        raise RollbackError(
            "database %s has logical replication slot(s) %s: they belong to the database's OID and would stay on "
            "the old database, pinning WAL, while the consumer is refused by the new one; set replication=recreate "
            "(the slot is created again on the restored database, the consumer starts from the new position) or "
            "replication=ignore; nothing was changed" % (database, slots))
    if state["slots"] and not (server.superuser or server.replication):
        raise RollbackError("replication=recreate: %s needs the REPLICATION attribute to drop and create the "
                            "slot(s) %s; nothing was changed" % (server.user, slots))
    return []


def publication_differences(live, restored):
    """Lines naming publications the restored database lacks or has differently."""
    lines = []
    for name in sorted(live):
        if name not in restored:
            lines.append("publication %s is not in the dump" % name)
        elif restored[name] != live[name]:
            lines.append("publication %s differs: %s, was %s" % (name, restored[name], live[name]))
    return lines


def recreate(server, slots, database):
    """Drop each slot (on the old database) and create it on ``database``; return name -> new LSN."""
    created = {}
    for slot in slots:
        server.execute("SELECT pg_drop_replication_slot(%s)", (slot["name"],))
        connection = server.connect(database)
        try:
            created[slot["name"]] = str(connection.execute(
                "SELECT lsn FROM pg_create_logical_replication_slot(%s, %s, false, %s)",
                (slot["name"], slot["plugin"], bool(slot["two_phase"])))[0][0])
        finally:
            connection.close()
    return created
