#!/usr/bin/python
# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: postgres_restore
short_description: Restore a PostgreSQL database from a dump beside the live one, verify, and swap by rename
description:
  - Level 3 of a rollback for self-managed PostgreSQL (runbooks 000 step 3.1, 001 step 3, 004 database rollback),
    without their C(dropdb) before the restore, after which a failed restore loses the data.
  - 'Steps: read the dump (its format is detected from content and an archive''s table of contents is read,
    so a corrupt or too-new dump fails here, before any change); an emergency C(pg_dump -Fc) of the live
    database, read back to prove it is restorable; restore into a side database C(<db>_rb_<UTC timestamp>);
    run O(verify) there; forbid new connections to the live database and terminate the open ones; rename the
    live database to C(<db>_pre_rollback_<UTC timestamp>) and the side one to O(db) in one transaction.'
  - The old database is never dropped. Everything written to it until the swap stays there.
  - On a failure before the swap (corrupt dump, a failing check, a lost connection), the side database is
    dropped and the live one is untouched. The emergency backup is kept.
version_added: 0.1.0
author:
  - rollback.core maintainers (@rollback-core)
extends_documentation_fragment:
  - rollback.core.postgres
options:
  db:
    description:
      - The live database to restore.
    type: str
    required: true
  dump:
    description:
      - The dump to restore, on the host that runs the module. Format detected from content
        (C(pg_dump -Fc) custom, C(-Fd) directory, C(-Ft) tar, or plain SQL).
      - Plain SQL runs through C(psql) with C(ON_ERROR_STOP) in one transaction.
      - Required unless O(dump_dir) is given.
    type: path
  dump_dir:
    description:
      - Directory to take the newest dump from, instead of O(dump) - the file (or directory dump) whose name
        matches O(dump_pattern) and sorts last (dated names sort by time). No match fails with nothing changed.
    type: path
  dump_pattern:
    description:
      - Shell pattern of the dump names in O(dump_dir).
    type: str
    default: "*.dump"
  jobs:
    description:
      - Parallel C(pg_restore) jobs for custom and directory dumps. Tar and plain dumps restore with one
        job (a warning says so).
    type: int
    default: 1
  emergency_backup:
    description:
      - Take the emergency dump of the live database first. Only turn it off when another fresh backup of
        the live database exists (for example a snapshot taken by the caller); the swap keeps the old
        database anyway.
    type: bool
    default: true
  emergency_backup_dir:
    description:
      - Directory for the emergency dump (created with mode 0700 if missing). Required when O(emergency_backup=true).
    type: path
  verify:
    description:
      - SQL checks run in the restored database before the swap; any failure aborts with nothing swapped.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: Name used in messages and results.
        type: str
      sql:
        description: The query.
        type: str
        required: true
      expect:
        description: Expected value of the first column of the first row (compared as text).
        type: raw
      min_rows:
        description: Fewest rows the query must return.
        type: int
  swap:
    description:
      - Swap the restored database in under the live name. With V(false), the restore stays in the side
        database (returned as RV(restored_db)) and the live database is untouched.
    type: bool
    default: true
  force:
    description:
      - After a swap the restored database is labelled (C(COMMENT ON DATABASE)) with the dump's path, size and
        time, and a later run with the same dump changes nothing, so a re-run of a failed rollback does not
        restore twice. V(true) restores again anyway.
    type: bool
    default: false
  no_owner:
    description:
      - Restore archives with C(--no-owner --no-privileges), for a O(login_user) that is not a superuser;
        restored objects then belong to O(login_user).
    type: bool
    default: false
  pg_bin_dir:
    description:
      - Directory of pg_dump, pg_restore and psql. Default, the first on PATH, else the newest
        C(/usr/lib/postgresql/*/bin) or C(/usr/pgsql-*/bin).
    type: path
attributes:
  check_mode:
    description: Detects the dump's format, reads its table of contents and checks the names; changes nothing.
    support: full
  diff_mode:
    description: Databases are not diffed; the result names what was replaced.
    support: none
notes:
  - Swapping needs O(login_user) to own both databases or be a superuser, and C(CREATEDB). Terminating
    other sessions needs C(pg_signal_backend) or superuser.
"""

EXAMPLES = r"""
- name: Restore last night's dump, keeping the current database
  rollback.core.postgres_restore:
    login_host: db.internal
    login_user: rollback
    login_password: "{{ vault_rollback_db_password }}"
    db: app
    dump: /var/backups/postgres/app-20251112.dump
    jobs: 4
    emergency_backup_dir: /var/backups/postgres/emergency
    verify:
      - name: users present
        sql: SELECT count(*) FROM users
        min_rows: 1
      - name: schema version
        sql: SELECT version_num FROM alembic_version
        expect: "3f2a1b"
  register: db_restore
"""

RETURN = r"""
backup_used:
  description: The dump restored (O(dump), or the newest in O(dump_dir)).
  returned: always
  type: str
data_loss_window:
  description:
    - What the restore loses - C(start) (the dump's time), C(end) (now), C(seconds), UTC.
  returned: always
  type: dict
restored_db:
  description: The database that now holds the restored data (O(db), or the side database with O(swap=false)).
  returned: always
  type: str
previous_db:
  description: The name the old live database now has; null with O(swap=false).
  returned: always
  type: str
side_db:
  description: The side database the dump was restored into.
  returned: always
  type: str
emergency_backup:
  description: Path of the emergency dump of the live database, or null.
  returned: always
  type: str
format:
  description: The detected dump format.
  returned: always
  type: str
toc_entries:
  description: Entries in the archive's table of contents (null for plain SQL).
  returned: always
  type: int
verify:
  description: Results of the O(verify) checks (name, rows, value).
  returned: always
  type: list
  elements: dict
executed_commands:
  description: Client commands (without secrets) and SQL statements, in order.
  returned: always
  type: list
  elements: str
duration:
  description: Seconds the module took.
  returned: always
  type: float
"""

from ansible_collections.rollback.core.plugins.module_utils import backups
from ansible_collections.rollback.core.plugins.module_utils.base import RollbackModule
from ansible_collections.rollback.core.plugins.module_utils.postgres import (
    POSTGRES_LOGIN_SPEC,
    PSYCOPG2_IMPORT_ERROR,
    restore,
)


def main():
    module = RollbackModule(
        dict(
            db=dict(type="str", required=True),
            dump=dict(type="path"),
            dump_dir=dict(type="path"),
            dump_pattern=dict(type="str", default="*.dump"),
            jobs=dict(type="int", default=1),
            emergency_backup=dict(type="bool", default=True),
            emergency_backup_dir=dict(type="path"),
            verify=dict(type="list", elements="dict", default=[], options=dict(
                name=dict(type="str"),
                sql=dict(type="str", required=True),
                expect=dict(type="raw"),
                min_rows=dict(type="int"),
            )),
            swap=dict(type="bool", default=True),
            no_owner=dict(type="bool", default=False),
            force=dict(type="bool", default=False),
            pg_bin_dir=dict(type="path"),
        ),
        shared_specs=(POSTGRES_LOGIN_SPEC,),
        required_if=[("emergency_backup", True, ("emergency_backup_dir",))],
        required_one_of=[("dump", "dump_dir")],
        mutually_exclusive=[("dump", "dump_dir")],
        supports_check_mode=True,
    )
    module.require_library("psycopg2", PSYCOPG2_IMPORT_ERROR, "psycopg2-binary")
    module.run(lambda m: backups.restore_newest(
        m, restore, "dump", "dump_dir", "dump_pattern", "dump", "*.dump", window=True))


if __name__ == "__main__":
    main()
