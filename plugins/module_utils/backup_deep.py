# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The deep verify of a dump: restore it into a scratch database, run the service's verify SQL, drop the scratch.

The scratch database is ``rollback_verify_<random>`` on the server of the login options, created from template0
and restored with ``pg_restore --exit-on-error --no-owner --no-privileges`` (the roles the dump names need not
exist on a verify server). The checks are postgres_restore's ``verify`` checks, run by the same code
(postgres_side.run_check). The scratch database is dropped whatever happens; a dump is only read.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import uuid

from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError


def deep_verify(params, item, executed):
    """Restore the dump of ``item`` into a scratch database and run ``params["verify"]``; the check results."""
    from psycopg2 import sql

    from ansible_collections.rollback.core.plugins.module_utils.postgres import Server, ident, login_of
    from ansible_collections.rollback.core.plugins.module_utils.postgres_dump import Tools, detect_format, find_bin_dir
    from ansible_collections.rollback.core.plugins.module_utils.postgres_side import drop, run_check
    server = Server(dict(params, maintenance_db=params.get("maintenance_db") or "postgres"), executed)
    scratch = "rollback_verify_%s" % uuid.uuid4().hex[:12]
    tools = Tools(find_bin_dir(params["pg_bin_dir"]), login_of(params), executed)
    server.execute(sql.SQL("CREATE DATABASE {} WITH TEMPLATE template0").format(ident(scratch)))
    try:
        tools.restore(item["path"], detect_format(item["path"]), scratch, params["jobs"], True)
        results = server.in_database(scratch, lambda connection: [run_check(connection, dict(check, as_role=None))
                                                                  for check in params["verify"]])
    except RollbackError as error:
        raise RollbackError("deep verify of %s: %s" % (item["path"], error.msg))
    finally:
        drop(server, scratch)
    return results
