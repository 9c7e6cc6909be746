#!/usr/bin/python
# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: migration_status
short_description: Compare a database's Alembic revisions with the release rolled back to; stamp or downgrade
description:
  - Answers the question a rollback must ask first, did the release being undone run database migrations
    (runbook 001 risk table, C(Database migration ran | Medium | Level 3 rollback + restore)), and applies
    runbook 002 (C(Database migrations are forward-only by default ... Do NOT run alembic downgrade in production
    unless the migration was specifically designed to be reversible)).
  - O(state=checked) (read-only) reads the revisions in the version table and the head(s) of the target release's
    migrations (O(script_location)) and returns a RV(status) - V(in_sync) (the database is at the target's
    head), V(ahead) (it is at revisions the target does not know, the undone release ran migrations; recommended
    level 3, restore the pre-deploy backup, or a forward reversal migration), V(behind) (older than the target's
    head) or V(no_version_table) - with a recommendation quoting the runbooks.
  - O(state=stamped) writes the target's head(s) (or O(revision)) into the version table without running any
    migration, as runbook 004 does after a database restore (C(alembic stamp)). Revisions the target does not
    know are replaced, with a warning.
  - O(state=downgraded) runs C(alembic downgrade) to the target's head with the C(downgrade) functions of the
    release being undone (O(current_script_location)), in one transaction. Refused unless O(allow_downgrade=true).
  - The releases' C(env.py) are not executed - Alembic's environment is configured by the module on its own
    connection to O(db), so the database that was checked is the one that changes. Migration scripts run as with
    the C(alembic) command. O(maintenance_db) is not used.
version_added: 0.1.0
author:
  - rollback.core maintainers (@rollback-core)
extends_documentation_fragment:
  - rollback.core.postgres
options:
  db:
    description:
      - The application database holding the Alembic version table.
    type: str
    required: true
  script_location:
    description:
      - Alembic migrations directory (with C(env.py) and C(versions/)) of the TARGET release, the one rolled
        back to.
    type: path
    required: true
  current_script_location:
    description:
      - Alembic migrations directory of the CURRENT release, the one being undone.
      - With O(state=checked), lists every migration it ran beyond the target (not only the newest) with its
        message. Required for O(state=downgraded), whose C(downgrade) functions live there.
    type: path
  version_table:
    description:
      - Alembic's version table (C(version_table) in the release's C(env.py)).
    type: str
    default: alembic_version
  version_table_schema:
    description:
      - Schema of O(version_table). Default, the connection's search path (as Alembic).
    type: str
  state:
    description:
      - V(checked) only reads. V(stamped) sets the version table. V(downgraded) runs the downgrade migrations.
    type: str
    choices: [checked, stamped, downgraded]
    default: checked
  revision:
    description:
      - O(state=stamped) or O(state=downgraded) - the revision of the target release to stamp or downgrade to
        (an id, a unique prefix, or V(head)), instead of the target's head(s).
    type: str
  allow_downgrade:
    description:
      - Must be V(true) for O(state=downgraded) - only for migrations designed to be reversible (runbook 002).
    type: bool
    default: false
  lock_timeout:
    description:
      - Seconds a statement may wait for a lock (PostgreSQL C(lock_timeout)) before the change fails and is
        rolled back, so a downgrade behind a busy table fails instead of blocking the database. V(0) waits forever.
    type: int
    default: 30
attributes:
  check_mode:
    support: full
    description: Reads the real version table; stamped and downgraded report the planned steps and change nothing.
  diff_mode:
    support: full
    description: The version table's revisions before and after.
requirements:
  - alembic and SQLAlchemy (Python)
seealso:
  - module: rollback.core.rollback_decision
  - module: rollback.core.postgres_restore
"""

EXAMPLES = r"""
- name: Did the release being undone run migrations?
  rollback.core.migration_status:
    login_host: db.internal
    login_user: rollback
    login_password: "{{ vault_rollback_db_password }}"
    db: billing
    script_location: /srv/billing/releases/1.4.2/migrations
    current_script_location: /srv/billing/releases/1.5.0/migrations
  register: migrations

- name: Refuse a level below 3 when it did
  ansible.builtin.assert:
    that: migrations.status != 'ahead' or level | int >= 3
    fail_msg: "{{ migrations.recommendation }}"

- name: After restoring the pre-deploy backup, mark the schema as the target release's
  rollback.core.migration_status:
    login_host: db.internal
    login_user: rollback
    login_password: "{{ vault_rollback_db_password }}"
    db: billing
    script_location: /srv/billing/releases/1.4.2/migrations
    state: stamped

- name: Only for migrations designed to be reversible
  rollback.core.migration_status:
    login_host: db.internal
    login_user: rollback
    login_password: "{{ vault_rollback_db_password }}"
    db: billing
    script_location: /srv/billing/releases/1.4.2/migrations
    current_script_location: /srv/billing/releases/1.5.0/migrations
    state: downgraded
    allow_downgrade: true
"""

RETURN = r"""
status:
  description: V(in_sync), V(ahead), V(behind) or V(no_version_table), of the database against the target release.
  returned: always
  type: str
  sample: ahead
current_revisions:
  description: Revisions in the version table (after the change, if any); null when there is no version table.
  returned: always
  type: list
  elements: str
  sample: [b2]
previous_revisions:
  description: Revisions in the version table before the change.
  returned: when state is stamped or downgraded
  type: list
  elements: str
target_heads:
  description: Head revision(s) of the target release.
  returned: always
  type: list
  elements: str
  sample: [a1]
unknown_revisions:
  description:
    - Revisions the target release does not know, oldest first. With O(current_script_location), every migration
      the undone release ran beyond the target; without, only those in the version table.
  returned: always
  type: list
  elements: str
  sample: [b2]
undone_migrations:
  description: RV(unknown_revisions) with their messages.
  returned: when current_script_location is given
  type: list
  elements: dict
  sample: [{revision: b2, doc: add accounts.email}]
pending_revisions:
  description:
    - Revisions of the target release not applied to the database, oldest first. Empty when the version table
      holds revisions that no given release knows (what they build on is then unknown).
  returned: always
  type: list
  elements: str
recommended_level:
  description:
    - Lowest rollback level the migrations allow - 3 when the undone release ran migrations (restore the
      pre-deploy backup), otherwise 1. The recommendation names the alternative, a forward reversal migration.
  returned: always
  type: int
  sample: 3
recommendation:
  description: What to do, quoting runbooks 001 and 002.
  returned: always
  type: str
version_table:
  description: The version table read, with its schema if given.
  returned: always
  type: str
  sample: alembic_version
steps:
  description: Stamp or migration steps planned (check mode) or run.
  returned: always
  type: list
  elements: str
  sample: ["downgrade b2 -> a1: add accounts.email"]
executed:
  description: SQL statements that ran (empty in check mode and for O(state=checked)).
  returned: always
  type: list
  elements: str
  sample: ["ALTER TABLE accounts DROP COLUMN email", "UPDATE alembic_version SET version_num='a1' WHERE ..."]
duration:
  description: Seconds the module took.
  returned: always
  type: float
"""

from ansible_collections.rollback.core.plugins.module_utils import migrations
from ansible_collections.rollback.core.plugins.module_utils.base import RollbackModule
from ansible_collections.rollback.core.plugins.module_utils.postgres import POSTGRES_LOGIN_SPEC, PSYCOPG2_IMPORT_ERROR


def main():
    module = RollbackModule(
        dict(),
        shared_specs=(POSTGRES_LOGIN_SPEC, migrations.MIGRATION_SPEC),
        supports_check_mode=True,
    )
    module.require_library("psycopg2", PSYCOPG2_IMPORT_ERROR, "psycopg2-binary")
    module.require_library("alembic", migrations.ALEMBIC_IMPORT_ERROR)
    module.run(migrations.migration_status)


if __name__ == "__main__":
    main()
