#!/usr/bin/python
# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: etcd_config_restore
short_description: Restore etcd keys under a prefix from a backup, as one guarded transaction
description:
  - Level 2 of a rollback (runbook 001 level 2, runbook 004 configuration rollback) restores the
    configuration an application reads from etcd.
  - Reads every key under O(prefix), compares it with O(backup) and writes only the keys that differ.
  - All changes go in one transaction guarded by compares on what was read, so a concurrent writer
    makes the restore fail with nothing applied, where the runbook's one-put-per-key loop would
    interleave with it.
  - The state before the restore is saved to O(save_current_to) before anything changes, in the
    backup's own format, so the restore itself can be rolled back.
version_added: 0.1.0
author:
  - rollback.core maintainers (@rollback-core)
extends_documentation_fragment:
  - rollback.core.backup_selection
  - rollback.core.decrypt
  - rollback.core.etcd
options:
  prefix:
    description:
      - Key prefix the restore is confined to. Every key of the backup must start with it.
    type: str
    required: true
  backup:
    description:
      - Path of the backup on the host that runs the module.
      - 'Formats, detected from content: a flat JSON object C({"key": "value"}); a JSON list of
        C({"key": ..., "value": ...}); the output of C(etcdctl get --prefix -w json) (base64 keys and values).'
      - A malformed or empty backup fails with nothing changed.
      - Required unless O(backup_dir) is given.
      - An C(s3://bucket/key) URL is fetched first (boto3's own credentials and C(AWS_ENDPOINT_URL_S3)) to a 0600
        temporary file, checked against the sha256 M(rollback.core.backup) stored with it, and removed at the end.
    type: path
  save_current_to:
    description:
      - Write the current state under O(prefix) to this path, in the backup's format and mode 0600,
        before anything changes.
      - Written only when something is about to change, so a re-run after a restore does not replace
        the saved pre-rollback state with the restored one.
    type: path
  prune:
    description:
      - Delete keys under O(prefix) that the backup lacks.
    type: bool
    default: false
  atomic:
    description:
      - Apply every change in one transaction. If the server's C(--max-txn-ops) is too low for it,
        fail with nothing changed and say how far to raise it.
      - With V(false), apply in transactions of at most O(max_txn_ops) operations and warn that a
        failure part-way leaves earlier transactions applied.
    type: bool
    default: true
  max_txn_ops:
    description:
      - Operations per transaction when O(atomic=false); match the server's C(--max-txn-ops) (etcd's default is 128).
      - At least 1; a smaller value is refused before connecting.
    type: int
    default: 128
  mask:
    description:
      - fnmatch patterns of keys (for example C(*/password), C(/app/secrets/*)) whose values never
        appear in the diff or the result.
    type: list
    elements: str
    default: []
attributes:
  check_mode:
    description: Reads etcd and the backup and reports the plan; writes nothing, saves nothing.
    support: full
  diff_mode:
    description: Shows the changed keys before and after, values of masked keys hidden.
    support: full
notes:
  - Values of keys matched by O(mask) are replaced by C(********) in the diff; keys themselves are always shown.
"""

EXAMPLES = r"""
- name: Restore the app's configuration, saving the current one first
  rollback.core.etcd_config_restore:
    endpoints: [https://etcd-1.prod:2379, https://etcd-2.prod:2379]
    ca_cert: /etc/ssl/etcd/ca.pem
    prefix: /config/api/
    backup: /var/backups/etcd/api-2025-11-12.json
    save_current_to: /var/backups/etcd/api-pre-rollback.json
    prune: true
    mask: ["*/password", "*/token", "/config/api/secrets/*"]
  diff: true

- name: The newest of the deploy pipeline's dated backups
  rollback.core.etcd_config_restore:
    endpoints: [https://etcd-1.prod:2379]
    prefix: /config/api/
    backup_dir: /var/backups/etcd
    backup_pattern: api-*.json
"""

RETURN = r"""
backup_used:
  description: The backup restored (O(backup), or the newest in O(backup_dir)).
  returned: always
  type: str
added:
  description: Keys the restore created.
  returned: always
  type: list
  elements: str
updated:
  description: Keys whose value the restore changed.
  returned: always
  type: list
  elements: str
removed:
  description: Keys the restore deleted (only with O(prune)).
  returned: always
  type: list
  elements: str
saved_to:
  description: Where the state before the restore was saved, or null when nothing was saved.
  returned: always
  type: str
transactions:
  description: Number of etcd transactions applied (0 when nothing changed or in check mode).
  returned: always
  type: int
revision:
  description: The etcd revision the plan was read at.
  returned: always
  type: int
endpoint:
  description: The endpoint that was used.
  returned: always
  type: str
duration:
  description: Seconds the module took.
  returned: always
  type: float
"""

from ansible_collections.rollback.core.plugins.module_utils.backup_crypt import DECRYPT_SPEC
from ansible_collections.rollback.core.plugins.module_utils.backups import SELECTION_SPEC, restore_newest
from ansible_collections.rollback.core.plugins.module_utils.base import RollbackModule
from ansible_collections.rollback.core.plugins.module_utils.etcd import (
    ETCD_CONNECTION_SPEC,
    ETCD_DEFAULT_MAX_TXN_OPS,
    ETCD_IMPORT_ERROR,
    restore,
)


def main():
    module = RollbackModule(
        dict(
            prefix=dict(type="str", required=True),
            backup=dict(type="path"),
            save_current_to=dict(type="path"),
            prune=dict(type="bool", default=False),
            atomic=dict(type="bool", default=True),
            max_txn_ops=dict(type="int", default=ETCD_DEFAULT_MAX_TXN_OPS),
            mask=dict(type="list", elements="str", default=[], no_log=False),
        ),
        shared_specs=(ETCD_CONNECTION_SPEC, SELECTION_SPEC, DECRYPT_SPEC),
        required_one_of=[("backup", "backup_dir")],
        mutually_exclusive=[("backup", "backup_dir")],
        supports_check_mode=True,
    )
    module.require_library("etcd3gw", ETCD_IMPORT_ERROR)
    module.run(lambda m: restore_newest(m, restore, "backup", "backup_dir", "backup_pattern", "etcd backup"))


if __name__ == "__main__":
    main()
