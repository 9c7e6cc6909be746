# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # Matches POSTGRES_LOGIN_SPEC in plugins/module_utils/postgres.py.
    DOCUMENTATION = r"""
options:
  login_host:
    description:
      - Host of the PostgreSQL server (a directory path for a unix socket).
    type: str
    default: localhost
  login_port:
    description:
      - Port of the PostgreSQL server.
    type: int
    default: 5432
  login_user:
    description:
      - Role to connect as. See docs/least-privilege.md for what it needs.
    type: str
    default: postgres
  login_password:
    description:
      - Password of O(login_user). Passed to the client tools through their environment, never on a command line.
    type: str
  maintenance_db:
    description:
      - Database to connect to for server-level statements (create, rename, terminate).
    type: str
    default: postgres
requirements:
  - psycopg2 (Python)
  - the PostgreSQL client tools pg_dump, pg_restore and psql, of a version at least that of the dumps
"""
