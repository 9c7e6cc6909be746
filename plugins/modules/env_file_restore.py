#!/usr/bin/python
# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: env_file_restore
short_description: Restore a .env-style file from a dated backup
description:
  - Level 2 of a rollback for apps configured by an env file (runbook 004, configuration rollback).
    Replaces O(path) with a backup, byte for byte, atomically (a temporary file renamed in the same
    directory), keeping the file's mode and owner.
  - The backup is checked before anything changes. It must be UTF-8 KEY=VALUE lines (comments and
    C(export) allowed) and not empty.
  - The current file is copied to C(<path>.pre-rollback-<UTC timestamp>) first. That name does not
    match the default O(backup_pattern), so a re-run never picks the file it just replaced.
  - After a change, the systemd units of O(restart_units) are restarted and waited for until active, so the
    app reads the restored file.
version_added: 0.1.0
author:
  - rollback.core maintainers (@rollback-core)
extends_documentation_fragment:
  - rollback.core.wait
  - rollback.core.decrypt
options:
  path:
    description:
      - The env file to restore, for example C(/srv/app/.env.production).
    type: path
    required: true
  backup:
    description:
      - The backup to restore. Without it, the newest file in O(backup_dir) matching O(backup_pattern) is used.
      - An C(s3://bucket/key) URL is fetched first (boto3's own credentials and C(AWS_ENDPOINT_URL_S3)) to a 0600
        temporary file, checked against the sha256 M(rollback.core.backup) stored with it, and removed at the end.
    type: path
  backup_dir:
    description:
      - Where to look for backups when O(backup) is not given. Defaults to the directory of O(path).
      - An C(s3://bucket/prefix) takes the newest matching object directly under the prefix, fetched as for
        O(backup).
    type: path
  backup_pattern:
    description:
      - fnmatch pattern of backup file names; the newest by name wins (dated names such as
        C(.env.production.backup-20251112-101500) sort by time).
      - Defaults to C(<file name>.backup-*), the naming of runbook 004.
    type: str
  save_current:
    description:
      - Copy the current file to C(<path>.pre-rollback-<UTC timestamp>) before replacing it.
    type: bool
    default: true
  validate_current:
    description:
      - Parse the current file to report which keys change. Turn off when the current file is not
        valid KEY=VALUE text (the restore still replaces it; added/updated/removed are then relative to nothing).
    type: bool
    default: true
  restart_units:
    description:
      - systemd units to restart after the file changed (C(systemctl) on PATH); checked to exist before any change.
    type: list
    elements: str
    default: []
  mask:
    description:
      - fnmatch patterns of variable names whose values never appear in the diff.
    type: list
    elements: str
    default: ["*PASSWORD*", "*SECRET*", "*TOKEN*", "*KEY*", "*CREDENTIAL*"]
attributes:
  check_mode:
    description: Reads both files and reports the plan; writes nothing.
    support: full
  diff_mode:
    description: Shows changed variables before and after, masked ones hidden.
    support: full
"""

EXAMPLES = r"""
- name: Restore the newest dated backup of the production env file and restart the app
  rollback.core.env_file_restore:
    path: /srv/api/.env.production
    restart_units: [api.service]
"""

RETURN = r"""
backup_used:
  description: The backup that was (or in check mode would be) restored.
  returned: always
  type: str
saved_to:
  description: Copy of the file as it was before, or null when nothing was replaced.
  returned: always
  type: str
added:
  description: Variables the backup adds.
  returned: always
  type: list
  elements: str
updated:
  description: Variables whose value the backup changes.
  returned: always
  type: list
  elements: str
removed:
  description: Variables the backup lacks.
  returned: always
  type: list
  elements: str
restarted:
  description: Units restarted after the change.
  returned: always
  type: list
  elements: str
path:
  description: The restored file.
  returned: always
  type: str
duration:
  description: Seconds the module took.
  returned: always
  type: float
"""

import os

from ansible_collections.rollback.core.plugins.module_utils.backup_crypt import DECRYPT_SPEC
from ansible_collections.rollback.core.plugins.module_utils.backups import restore_newest
from ansible_collections.rollback.core.plugins.module_utils.base import RollbackModule
from ansible_collections.rollback.core.plugins.module_utils.env_file import restore
from ansible_collections.rollback.core.plugins.module_utils.wait import WAIT_SPEC, Waiter


def main():
    module = RollbackModule(
        dict(
            path=dict(type="path", required=True),
            backup=dict(type="path"),
            backup_dir=dict(type="path"),
            backup_pattern=dict(type="str"),
            save_current=dict(type="bool", default=True),
            validate_current=dict(type="bool", default=True),
            restart_units=dict(type="list", elements="str", default=[]),
            mask=dict(type="list", elements="str", no_log=False,
                      default=["*PASSWORD*", "*SECRET*", "*TOKEN*", "*KEY*", "*CREDENTIAL*"]),
        ),
        shared_specs=(WAIT_SPEC, DECRYPT_SPEC),
        mutually_exclusive=[("backup", "backup_dir"), ("backup", "backup_pattern")],
        supports_check_mode=True,
    )
    if not module.params["backup"] and not module.params["backup_dir"]:
        module.params["backup_dir"] = os.path.dirname(os.path.abspath(module.params["path"]))
    module.run(lambda m: restore_newest(m, lambda m: restore(m, Waiter(m)), "backup", "backup_dir", "backup_pattern",
                                        "env file backup",
                                        lambda params: os.path.basename(params["path"]) + ".backup-*"))


if __name__ == "__main__":
    main()
