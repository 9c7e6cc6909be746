# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""PostgreSQL access control lists as sets of items, and the GRANT/REVOKE that turn one into another.

An ACL item is ``(grantor, grantee, privilege, grantable)`` as ``aclexplode()``
returns it, with role names and ``None`` for PUBLIC. A NULL ACL means the
object's default (``acldefault()``): the SQL below always explodes
``coalesce(acl, acldefault(kind, owner))`` so both compare as what they grant.
Grants are issued as their grantor (``SET ROLE``), so the grantor recorded is
the same as before (as pg_dump's ``buildACLCommands`` does with ``SET SESSION
AUTHORIZATION``).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.rollback.core.plugins.module_utils.postgres import ident, sql


def explode_sql(source, acl, kind, owner):
    """SQL of the ``aclexplode`` rows ``grantor, grantee, privilege, grantable`` of one ACL column of ``source``.

    ``source`` is the FROM item holding the columns ``acl`` and ``owner``; the caller appends its WHERE.
    """
    return ("SELECT pg_get_userbyid(a.grantor), CASE WHEN a.grantee = 0 THEN NULL ELSE pg_get_userbyid(a.grantee) "
            "END, a.privilege_type, a.is_grantable FROM %s, aclexplode(coalesce(%s, acldefault(%s, %s))) a"
            % (source, acl, kind, owner))


def items(rows):
    return set((grantor, grantee, privilege, bool(grantable)) for grantor, grantee, privilege, grantable in rows)


def text(item):
    """``grantee=PRIVILEGE/grantor`` (``*`` when grantable), for reports."""
    grantor, grantee, privilege, grantable = item
    return "%s=%s%s/%s" % (grantee or "PUBLIC", privilege, "*" if grantable else "", grantor)


def _grantee(name):
    return sql.SQL("PUBLIC") if name is None else ident(name)


def changes(on, current, wanted, owner, column=None):
    """Statements that turn ACL ``current`` into ``wanted`` on ``on`` (e.g. ``SQL("TABLE {}")``).

    With ``column``, the privileges are that column's (``GRANT SELECT (column) ON TABLE ...``).
    Revokes go first (other grantors before the owner), grants after (the owner first, so
    a grantor holding a grant option has it when its own grants run).
    """
    current_keys = dict(((g, e, p), o) for g, e, p, o in current)
    wanted_keys = dict(((g, e, p), o) for g, e, p, o in wanted)
    revokes, grants = {}, {}
    for key, grantable in current_keys.items():
        if key not in wanted_keys:
            revokes.setdefault(key[0], []).append((key, False))
        elif grantable and not wanted_keys[key]:
            revokes.setdefault(key[0], []).append((key, True))
    for key, grantable in wanted_keys.items():
        if key not in current_keys or (grantable and not current_keys[key]):
            grants.setdefault(key[0], []).append((key, grantable))

    def privilege(name):
        if column is None:
            return sql.SQL(name)
        return sql.SQL("{} ({})").format(sql.SQL(name), ident(column))

    statements = []
    for grantor in sorted(revokes, key=lambda name: (name == owner, name)):
        statements += _as(grantor, [sql.SQL("REVOKE {}{} ON {} FROM {}").format(
            sql.SQL("GRANT OPTION FOR ") if option_only else sql.SQL(""), privilege(key[2]), on, _grantee(key[1]))
            for key, option_only in sorted(revokes[grantor], key=str)])
    for grantor in sorted(grants, key=lambda name: (name != owner, name)):
        statements += _as(grantor, [sql.SQL("GRANT {} ON {} TO {}{}").format(
            privilege(key[2]), on, _grantee(key[1]), sql.SQL(" WITH GRANT OPTION") if grantable else sql.SQL(""))
            for key, grantable in sorted(grants[grantor], key=str)])
    return statements


def _as(role, statements):
    return [sql.SQL("SET ROLE {}").format(ident(role))] + statements + [sql.SQL("RESET ROLE")]
