#!/usr/bin/python
# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: postgres_restore
short_description: Restore a PostgreSQL dump or point in time beside the live database, carry its identity, swap
description:
  - Level 3 of a rollback for self-managed PostgreSQL (runbooks 000 step 3.1, 001 step 3, 004 database rollback),
    without their C(dropdb) before the restore, after which a failed restore loses the data.
  - 'Before any change: the dump is read (format detected from content; an archive''s table of contents is read,
    so a corrupt or too-new dump fails here; a plain dump with C(\connect), another psql meta-command or a statement
    on databases, roles or tablespaces is refused, naming the line); prepared transactions, sessions the login
    cannot end and logical replication (O(replication)) are refused; the login''s rights are checked, the
    identity statements are tried on the live database in a transaction that is rolled back; the free space
    of the live database''s filesystem is checked (O(free_space_check)).'
  - 'Then: an emergency C(pg_dump -Fc) of the live database, read back; a side database C(<db>_rb_<UTC timestamp>)
    created like the live one (owner, encoding, locale provider and locales, tablespace); the dump restored into
    it; the live database''s identity given to it (grants, C(ALTER DATABASE ... SET) and
    C(ALTER ROLE ... IN DATABASE ... SET) settings; with O(no_owner) the owners and privileges of its objects and
    its default privileges); O(verify) checks run there (O(verify[].as_role) as the application); the privilege
    comparison (O(compare_privileges)); then new connections to the live database are refused, its sessions get
    O(drain_timeout) seconds to end and the rest are ended, and in one transaction the connection limit and
    comment are applied and the live database is renamed C(<db>_pre_rollback_<UTC timestamp>) and the side one O(db).'
  - The old database is never dropped. Everything written to it until the swap stays there.
  - On any failure before the swap commits, the side database is dropped (O(keep_failed_side) keeps it) and the
    live one is untouched. The emergency backup is kept. A re-run drops what an interrupted run left (never a
    second copy), and changes nothing once the live database is the one restored from this dump.
version_added: 0.1.0
author:
  - rollback.core maintainers (@rollback-core)
extends_documentation_fragment:
  - rollback.core.postgres
  - rollback.core.decrypt
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
      - Plain SQL runs through C(psql) with C(ON_ERROR_STOP) in one transaction, connected to the side database
        only; see the description for what it may not contain.
      - Required unless O(dump_dir) or O(pitr) is given.
      - An C(s3://bucket/key) URL is fetched first (boto3's own credentials and C(AWS_ENDPOINT_URL_S3)) to a 0600
        temporary file, checked against the sha256 M(rollback.core.backup) stored with it, and removed at the end.
    type: path
  dump_dir:
    description:
      - Directory to take the newest dump from, instead of O(dump) - the file (or directory dump) whose name
        matches O(dump_pattern) and sorts last (dated names sort by time). No match fails with nothing changed.
      - An C(s3://bucket/prefix) takes the newest object directly under the prefix (a dump kept in S3 by
        M(rollback.core.backup) O(rollback.core.backup#module:storage)), fetched as for O(dump); files only.
    type: path
  pitr:
    description:
      - Restore the database as it was at O(pitr.target_time) from a pgBackRest repository (continuous WAL
        archiving), instead of a dump; the data-loss window is the time since the target, not since a dump.
      - 'Before any change: C(pgbackrest info) of the stanza (an unknown stanza, or one without a backup, is refused);
        the target must not be in the future, nor before the end of the oldest backup, nor after the newest archived
        WAL segment (its time in the repository, C(pgbackrest repo-ls)) - except that when the live server is the
        stanza''s cluster (same system identifier) its current WAL segment is switched (C(pg_switch_wal())) and
        archived first (not in check mode). The backup set used is the newest that ended at or before the target.
        Unless the live server is another cluster (its system identifier differs), a live tablespace that the set
        does not hold (created after the backup) is refused: replaying its creation would link the scratch cluster
        to the live directory.'
      - 'Then, inside the flow of a dump (emergency dump, side database, identity, verify, swap): the cluster is
        restored to a scratch directory (C(pgbackrest restore --set --type=time --target --target-action=promote
        --archive-mode=off --tablespace-map-all)), started with C(pg_ctl) of the stanza''s PostgreSQL version on a
        Unix socket in that directory only (no TCP, trust for that socket only, C(archive_mode=off), so it never
        archives into the repository), waited for until its recovery promoted, and O(db) dumped from it
        (C(pg_dump -Fc)) and restored into the side database. The scratch server is stopped and its directory
        removed whatever happens (C(scratch_removed) in RV(pitr)).'
      - The host that runs the module needs the C(pgbackrest) command, its configuration (the repository) and the
        PostgreSQL server binaries of the stanza's version, and room in O(pitr.scratch_dir) for the whole cluster.
      - Mutually exclusive with O(dump) and O(dump_dir). A re-run with the same stanza, backup set and target changes
        nothing once the live database is the restored one.
    type: dict
    suboptions:
      stanza:
        description: The pgBackRest stanza of the cluster that holds O(db).
        type: str
        required: true
      config:
        description: pgBackRest configuration file (C(--config)). Default, pgBackRest's own (C(/etc/pgbackrest.conf)).
        type: path
      target_time:
        description:
          - The moment to restore to, RFC 3339 / ISO 8601 with an offset (C(2026-01-01T12:00:00Z)); in a rollback,
            the time the bad deploy started.
          - Default, the start of the newest deploy of O(pitr.services) in O(pitr.marker_dir) (the markers
            M(rollback.core.backup) writes), that is the earliest C(started_at) among the markers carrying the
            newest marker's C(deploy_id). One of the two is required.
        type: str
      marker_dir:
        description: Directory of the deploy markers (C(<service>.json)) to take the default O(pitr.target_time) from.
        type: path
      services:
        description: The services whose newest deploy marker gives the default O(pitr.target_time).
        type: list
        elements: str
        default: []
      os_user:
        description:
          - The system user that runs C(pgbackrest) and the scratch server (PostgreSQL refuses root). Default, the
            user running the module, or C(postgres) when that is root.
        type: str
      pg_bin_dir:
        description:
          - Directory of C(pg_ctl), C(pg_controldata), C(pg_dump) and C(psql) for the scratch server. Default, the
            stanza's major version in C(/usr/lib/postgresql/<version>/bin) or C(/usr/pgsql-<version>/bin).
        type: path
      scratch_dir:
        description: Directory the scratch data directory is created in (a new C(rollback-pitr-<db>-*) directory,
          removed at the end). Default, the system's temporary directory.
        type: path
      scratch_port:
        description: Port of the scratch server (it only names its Unix socket; no TCP). Default, a free port.
        type: int
      recovery_timeout:
        description: Seconds the scratch server gets to replay the WAL up to the target.
        type: int
        default: 1800
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
  emergency_backup_compression:
    description:
      - C(pg_dump --compress) level of the emergency dump, from 0 (none, the fastest and largest) to 9. The
        emergency dump is on the rollback's critical path; level 1 takes about half the time of pg_dump's default
        (6) for a few percent more bytes (see docs/benchmarks.md).
    type: int
    choices: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
    default: 1
  emergency_backup_dir:
    description:
      - Directory for the emergency dump (created with mode 0700 if missing). Required when O(emergency_backup=true).
    type: path
  verify:
    description:
      - SQL checks run in the restored database, with its identity already carried over, before the swap; any
        failure aborts with nothing swapped. Without O(verify[].as_role) a check runs as O(login_user), without
        the database's timeouts.
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
      as_role:
        description:
          - Run the query as this role (C(SET ROLE), after applying the role's own settings in the database and
            its global ones), to see what the application will see. O(login_user) must be a member of it.
        type: str
  compare_privileges:
    description:
      - Before the swap, compare what each role may do in the live database and in the restored one
        (C(has_database_privilege), C(has_schema_privilege), C(has_table_privilege), C(has_any_column_privilege),
        C(has_sequence_privilege), C(has_function_privilege)) on every object both have, for every non-superuser
        role the live database's objects and grants name, PUBLIC and the O(verify[].as_role) roles. A difference
        fails the module before the swap.
      - Turn it off only when the dump is meant to bring different privileges back.
    type: bool
    default: true
  replication:
    description:
      - What to do with the live database's logical replication, which a swap by rename would leave on the old
        database (slots and subscriptions belong to its OID).
      - V(refuse) fails before any change when it has a logical replication slot or a subscription.
      - V(recreate) drops each logical slot after the swap and creates it again (same name, plugin, two_phase)
        on the restored database; the consumer starts again from the new slot's position (returned). Needs the
        REPLICATION attribute. Subscriptions are refused (they cannot move without a resynchronisation).
      - V(ignore) leaves slots and subscriptions on the old database, and says so.
    type: str
    choices: [refuse, recreate, ignore]
    default: refuse
  drain_timeout:
    description:
      - Seconds the live database's sessions get to end on their own after new connections are refused, before
        the remaining ones are ended (C(pg_terminate_backend)). The result names who ended on their own and who
        was ended.
    type: int
    default: 10
  keep_failed_side:
    description:
      - On a failure, keep the side database (labelled with the failure in its comment) instead of dropping it,
        to look at it. A re-run drops it and starts again.
    type: bool
    default: false
  free_space_check:
    description:
      - Refuse, before any change, a restore whose side database (estimated as the larger of the live database's
        size and the dump's, + 10%, plus the emergency dump when it goes to the same filesystem) would not fit
        in the free space of the live database's filesystem.
      - The space is read where the live database's directory is, which is only visible when the module runs on
        the database server. V(auto) checks when it is visible and warns otherwise; V(require) fails when it is
        not visible; V(skip) does not check.
    type: str
    choices: [auto, require, skip]
    default: auto
  swap:
    description:
      - Swap the restored database in under the live name. With V(false), the restore stays in the side
        database (returned as RV(restored_db)) and the live database is untouched; a re-run with the same dump
        returns it unchanged.
    type: bool
    default: true
  force:
    description:
      - After a swap the old database is labelled (C(COMMENT ON DATABASE), its own comment kept in the text)
        with the restored database's OID and the dump's path, size and time, and a later run with the same dump
        changes nothing, so a re-run of a failed rollback does not restore twice. V(true) restores again anyway.
    type: bool
    default: false
  no_owner:
    description:
      - Restore archives with C(--no-owner --no-privileges), for a O(login_user) that is not a superuser, then
        give every restored object the owner it has in the live database (else its schema's owner, else the
        database's), the live database's privileges on it and on its columns, and the live database's default
        privileges. Plain dumps run as they are, then get the same. O(login_user) must be a member of those
        roles.
    type: bool
    default: false
  pg_bin_dir:
    description:
      - Directory of pg_dump, pg_restore and psql. Default, the first on PATH, else the newest
        C(/usr/lib/postgresql/*/bin) or C(/usr/pgsql-*/bin).
    type: path
attributes:
  check_mode:
    description: Runs every check of the first paragraph (the dump, sessions, replication, rights, the identity
      tried in a rolled-back transaction, the free space) and returns the plan; changes nothing.
    support: full
  diff_mode:
    description: Databases are not diffed; the result names what was replaced and what was carried over.
    support: none
notes:
  - Swapping needs O(login_user) to own the database (or be a superuser) and C(CREATEDB). Ending other sessions
    needs C(pg_signal_backend) or superuser (a superuser's session only a superuser can end). Carrying
    C(ALTER ROLE ... IN DATABASE) settings over needs the rights PostgreSQL asks for them (superuser, or
    CREATEROLE over the role). See docs/least-privilege.md.
  - Security labels (C(pg_shseclabel)) are not carried over. Logical replication is handled by O(replication).
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
    no_owner: true
    drain_timeout: 20
    verify:
      - name: orders readable by the application
        sql: SELECT count(*) FROM orders
        as_role: app
        min_rows: 1
      - name: schema version
        sql: SELECT version_num FROM alembic_version
        expect: "3f2a1b"
  register: db_restore

- name: Restore the database as it was when the bad deploy started (pgBackRest point in time)
  rollback.core.postgres_restore:
    login_host: db.internal
    login_user: rollback
    login_password: "{{ vault_rollback_db_password }}"
    db: app
    pitr:
      stanza: main
      target_time: "2026-01-01T12:00:00Z"
      scratch_dir: /var/lib/postgresql/scratch
    emergency_backup_dir: /var/backups/postgres/emergency
"""

RETURN = r"""
backup_used:
  description: The dump restored (O(dump), or the newest in O(dump_dir)); with O(pitr),
    C(pgbackrest stanza <stanza> backup set <label> to <target time>).
  returned: always
  type: str
data_loss_window:
  description:
    - What the restore loses - C(start) (the dump's time; with O(pitr) the target time), C(end) (now), C(seconds),
      UTC.
  returned: always
  type: dict
pitr:
  description:
    - With O(pitr), the plan and what it did - C(stanza), C(backup_set) (label), C(backup_type), C(backup_end),
      C(target_time), C(target) (as given to pgBackRest), C(newest_wal) (time the newest archived WAL segment
      reached the repository), C(archived_after_target_seconds) (writes archived after the target, which the
      restore leaves out), C(wal_switch) (set when the live server's WAL was switched and archived first),
      C(target_from) (O(pitr.target_time) or the deploy marker), C(pg_bin_dir), C(os_user), C(scratch_removed)
      (null when no scratch cluster was made, as in check mode), C(tablespaces) (the backup set's tablespaces; null
      when the live server is another cluster and they were not compared).
  returned: when O(pitr) is given
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
  description: The side database the dump was restored into (on a failure with O(keep_failed_side), where it is).
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
identity:
  description: The live database's identity, which the restored database was given (owner, encoding, locale,
    tablespace, connection_limit, allow_connections, is_template, grants, comment, settings, role_settings).
  returned: always
  type: dict
carried_over:
  description: One line per fact carried over to the restored database (grants, settings, owner, ...).
  returned: always
  type: list
  elements: str
not_carried:
  description: What was not carried over and why (replication left with O(replication=ignore), objects of a type
    that cannot be re-owned, publications the dump lacks).
  returned: always
  type: list
  elements: str
privileges:
  description: The privilege comparison (roles, compared, only_before, only_after, differences); null when not run.
  returned: always
  type: dict
sessions:
  description: Sessions of the live database at the swap, C(ended_by_themselves) within O(drain_timeout) and
    C(terminated), each as C(pid N (user, application)).
  returned: always
  type: dict
replication:
  description: The O(replication) mode, the live database's logical slots and subscriptions, and the slots
    recreated with their new LSN.
  returned: always
  type: dict
space:
  description: The free-space check (checked, live_size, dump_size, needed, free, path, reason).
  returned: always
  type: dict
dropped_leftovers:
  description: Side databases left by an interrupted earlier run, dropped (or, in check mode, to be dropped).
  returned: always
  type: list
  elements: str
verify:
  description: Results of the O(verify) checks (name, as_role, rows, value).
  returned: always
  type: list
  elements: dict
executed_commands:
  description: Client commands (without secrets) and SQL statements that change something, in order.
  returned: always
  type: list
  elements: str
duration:
  description: Seconds the module took.
  returned: always
  type: float
"""

from ansible_collections.rollback.core.plugins.module_utils import backups
from ansible_collections.rollback.core.plugins.module_utils.backup_crypt import DECRYPT_SPEC
from ansible_collections.rollback.core.plugins.module_utils.base import RollbackModule
from ansible_collections.rollback.core.plugins.module_utils.connection_specs import SQL_CHECK_OPTIONS
from ansible_collections.rollback.core.plugins.module_utils.postgres import POSTGRES_LOGIN_SPEC, PSYCOPG2_IMPORT_ERROR
from ansible_collections.rollback.core.plugins.module_utils.postgres_dump_restore import restore
from ansible_collections.rollback.core.plugins.module_utils import postgres_pitr


def main():
    module = RollbackModule(
        dict(
            db=dict(type="str", required=True),
            dump=dict(type="path"),
            dump_dir=dict(type="path"),
            pitr=dict(type="dict", options=postgres_pitr.PITR_OPTIONS),
            dump_pattern=dict(type="str", default="*.dump"),
            jobs=dict(type="int", default=1),
            emergency_backup=dict(type="bool", default=True),
            emergency_backup_dir=dict(type="path"),
            emergency_backup_compression=dict(type="int", default=1, choices=list(range(10))),
            verify=dict(type="list", elements="dict", default=[],
                        options=dict(SQL_CHECK_OPTIONS, as_role=dict(type="str"))),
            compare_privileges=dict(type="bool", default=True),
            replication=dict(type="str", default="refuse", choices=["refuse", "recreate", "ignore"]),
            drain_timeout=dict(type="int", default=10),
            keep_failed_side=dict(type="bool", default=False),
            free_space_check=dict(type="str", default="auto", choices=["auto", "require", "skip"]),
            swap=dict(type="bool", default=True),
            no_owner=dict(type="bool", default=False),
            force=dict(type="bool", default=False),
            pg_bin_dir=dict(type="path"),
        ),
        shared_specs=(POSTGRES_LOGIN_SPEC, DECRYPT_SPEC),
        required_if=[("emergency_backup", True, ("emergency_backup_dir",))],
        required_one_of=[("dump", "dump_dir", "pitr")],
        mutually_exclusive=[("dump", "dump_dir", "pitr")],
        supports_check_mode=True,
    )
    module.require_library("psycopg2", PSYCOPG2_IMPORT_ERROR, "psycopg2-binary")
    if module.params["pitr"]:
        module.run(postgres_pitr.restore)
    module.run(lambda m: backups.restore_newest(
        m, restore, "dump", "dump_dir", "dump_pattern", "dump", "*.dump", window=True))


if __name__ == "__main__":
    main()
