#!/usr/bin/python
# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: cache_invalidate
short_description: Invalidate a Redis cache after a database restore
description:
  - Level 3 of a rollback, after the database restore (runbook 000 step 3.2), so the application does not serve
    values cached from the data that was rolled back.
  - O(mode=flushdb) (the default) empties database O(db) only (C(FLUSHDB)).
  - O(mode=patterns) deletes only the keys of database O(db) matching O(patterns) (Redis glob syntax), found with
    C(SCAN MATCH) (never C(KEYS), which blocks the server) and removed with C(UNLINK) in batches of
    O(batch_size). A pattern made only of C(*) is refused - it is O(mode=flushdb) done key by key.
  - O(mode=flushall) empties every database of the server (C(FLUSHALL), the runbook's command). It is never a
    default and never implied; other users of the same server lose their keys too.
  - A flush runs in one C(MULTI)/C(EXEC) transaction with the key count before it, so RV(keys_deleted) is what
    the flush really removed. Nothing is sent when there is nothing to delete; the task is then C(changed=false).
  - 'Before any key goes: the options are consistent, the server answers, the login works and O(db) exists.'
  - Restarting the application's cache connections (the runbook's next line) is the service restart's job.
version_added: 0.1.0
author:
  - rollback.core maintainers (@rollback-core)
extends_documentation_fragment:
  - rollback.core.redis
options:
  mode:
    description:
      - What to invalidate. V(flushdb) - every key of O(db). V(patterns) - the keys of O(db) matching O(patterns).
        V(flushall) - every key of every database of the server.
    type: str
    choices: [flushdb, patterns, flushall]
    default: flushdb
  db:
    description:
      - Database number (C(SELECT)). Not used by O(mode=flushall), which empties them all.
    type: int
    default: 0
  patterns:
    description:
      - With O(mode=patterns), glob patterns of the keys to delete (for example C(session:*), C(user:[0-9]*)),
        in order; a key matched by several counts for the first. Required then, refused with other modes.
    type: list
    elements: str
    default: []
  asynchronous:
    description:
      - V(true) frees the memory in the background (C(FLUSHDB ASYNC), C(FLUSHALL ASYNC), C(UNLINK)); the keys are
        gone for clients at once either way. V(false) blocks the server until freed (C(FLUSHDB), C(DEL)); needed
        for Redis older than 4.0.
    type: bool
    default: true
  batch_size:
    description:
      - With O(mode=patterns), the C(COUNT) hint of each C(SCAN) and the most keys in one C(UNLINK).
    type: int
    default: 1000
attributes:
  check_mode:
    support: full
    description: Counts the keys that would be deleted (O(mode=patterns) scans them) and deletes nothing.
  diff_mode:
    support: full
    description: Key count of each database concerned before and after.
notes:
  - Least privilege - an ACL user for O(mode=flushdb) needs C(+ping +select +dbsize +flushdb +multi +exec); for
    O(mode=patterns) C(+ping +select +dbsize +scan +unlink) (C(+del) with O(asynchronous=false)); for
    O(mode=flushall) C(+ping +info +flushall +multi +exec). C(+info) also fills RV(redis_version). Such a user
    cannot run C(FLUSHALL) by mistake. A refused command fails the task with its name, before any key goes.
  - Keys written by clients while the task runs are not counted in RV(keys_deleted) and may be in RV(keys_after).
"""

EXAMPLES = r"""
- name: Empty the application's cache database after restoring its data
  rollback.core.cache_invalidate:
    host: cache.internal
    db: 2
    password: "{{ vault_redis_password }}"
  register: cache

- name: Drop only what the restored data invalidates
  rollback.core.cache_invalidate:
    host: cache.internal
    db: 2
    password: "{{ vault_redis_password }}"
    mode: patterns
    patterns:
      - "api:users:*"
      - "api:orders:*"

- name: The runbook's FLUSHALL, over TLS, as a deliberate choice
  rollback.core.cache_invalidate:
    host: cache.internal
    port: 6380
    tls: true
    ca_cert: /etc/ssl/internal-ca.pem
    username: rollback
    password: "{{ vault_redis_rollback_password }}"
    mode: flushall
"""

RETURN = r"""
mode:
  description: O(mode).
  returned: always
  type: str
db:
  description: O(db); null with O(mode=flushall).
  returned: always
  type: int
keys_before:
  description: Keys in O(db) (with O(mode=flushall), in all databases) before the task.
  returned: always
  type: int
keys_deleted:
  description: Keys deleted; in check mode, the keys that would be deleted.
  returned: always
  type: int
keys_after:
  description: Keys in O(db) (all databases with O(mode=flushall)) after the task; in check mode, the projection.
  returned: always
  type: int
keyspace_before:
  description: Key count per database concerned before the task, for example C(db2=1250).
  sample: {"db2": 1250}
  returned: always
  type: dict
keyspace_after:
  description: Key count per database concerned after the task (in check mode, the projection).
  returned: always
  type: dict
pattern_counts:
  description: With O(mode=patterns), per pattern the keys deleted (in check mode, that would be deleted).
  returned: when mode is patterns
  type: list
  elements: dict
  sample: [{"pattern": "api:users:*", "keys": 120}]
executed_commands:
  description: The commands that deleted keys, without key names or secrets; empty in check mode and when nothing
    was deleted.
  returned: always
  type: list
  elements: str
  sample: ["FLUSHDB ASYNC"]
redis_version:
  description: The server's version; null when the user may not run C(INFO).
  returned: always
  type: str
duration:
  description: Seconds the module took.
  returned: always
  type: float
"""

from ansible_collections.rollback.core.plugins.module_utils.base import RollbackModule
from ansible_collections.rollback.core.plugins.module_utils.redis_cache import (
    CACHE_INVALIDATE_SPEC,
    REDIS_CONNECTION_SPEC,
    REDIS_IMPORT_ERROR,
    invalidate,
)


def main():
    module = RollbackModule(
        dict(),
        shared_specs=(REDIS_CONNECTION_SPEC, CACHE_INVALIDATE_SPEC),
        supports_check_mode=True,
    )
    module.require_library("redis", REDIS_IMPORT_ERROR)
    module.run(invalidate)


if __name__ == "__main__":
    main()
