# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""``.env``-style files restored from a dated backup (runbook 004, configuration rollback).

The file is replaced byte for byte by the backup; the KEY=VALUE reading is
only for validating the backup and for showing a masked diff of what changes.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re

from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError
from ansible_collections.rollback.core.plugins.module_utils.server import check_units, restart_units
from ansible_collections.rollback.core.plugins.module_utils.toolkit import atomic_write, save_previous
from ansible_collections.rollback.core.plugins.module_utils.config_backup import (
    Masker,
    plan_restore,
    read_text,
    restore_diff,
)

LINE = re.compile(r"^(?:export\s+)?([A-Za-z_][A-Za-z0-9_.]*)\s*=(.*)$")


def parse_env(text, source):
    """``{KEY: raw value}`` of an env file; comments and blank lines are skipped."""
    values = {}
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        match = LINE.match(stripped)
        if not match:
            raise RollbackError("%s line %d is not KEY=VALUE: %s" % (source, number, _shape(stripped)))
        values[match.group(1)] = match.group(2).strip()
    return values


def _shape(line):
    """The line with its value hidden: errors must not print secrets."""
    return line.split("=", 1)[0][:40] + ("=..." if "=" in line else "")


def restore(module, waiter):
    params = module.params
    path = params["path"]
    backup = params["backup"]  # given, or chosen (and fetched, decrypted) by backups.restore_newest
    wanted_raw, wanted_text = read_text(backup, "backup")
    desired = parse_env(wanted_text, backup)
    if not desired:
        raise RollbackError("backup %s holds no KEY=VALUE lines; refusing to restore an empty file" % backup)
    check_units(module, params["restart_units"])
    if os.path.exists(path):
        current_raw, current_text = read_text(path, "file")
        current = parse_env(current_text, path) if params["validate_current"] else {}
    else:
        current_raw, current = None, {}
    added, updated, removed = plan_restore(current, desired, prune=True)
    result = dict(path=path, backup_used=backup, saved_to=None, added=added, updated=updated, removed=removed,
                  restarted=[], changed=current_raw != wanted_raw)
    if module._diff:
        result["diff"] = restore_diff(current, desired, added, updated, removed, Masker(params["mask"]))
    if not result["changed"] or module.check_mode:
        return result
    if current_raw is not None and params["save_current"]:
        result["saved_to"] = save_previous(path)
    atomic_write(path, wanted_raw, what="env file")
    result["restarted"] = restart_units(module, waiter, params["restart_units"])
    return result
