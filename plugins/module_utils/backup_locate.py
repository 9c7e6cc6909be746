# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which restore point a rollback will restore, how old it is, and whether it predates the last deploy.

The rollback's preflight plans every phase in check mode; the restore modules name the backup they would use
(``backup_used``: a file, or an RDS snapshot id). Here each is looked up in the restore points' manifests (the
newest manifest holding it) and compared with the newest deploy marker (deploy_marker.py) of the services
concerned. A restore point taken for that deploy (same deploy id) or after it started is the known-good state
before it; one taken before it, for an older deploy, also undoes what that older deploy's successors changed:
the preflight warns (a rollback must still be able to run, the operator decides).

Only reads: it never fails the rollback; what it cannot read becomes a warning.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible_collections.rollback.core.plugins.module_utils import restore_points as points
from ansible_collections.rollback.core.plugins.module_utils.alertmanager import parse_time
from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError
from ansible_collections.rollback.core.plugins.module_utils.deploy_marker import newest_marker
from ansible_collections.rollback.core.plugins.module_utils.toolkit import utc_iso, utc_now


def _holders(manifest_dir, problems):
    """backup (path, snapshot id or s3:// URL) -> (manifest, item) of the newest restore point holding it."""
    try:
        found = points.manifests(manifest_dir) if manifest_dir else []
    except RollbackError as error:
        problems.append(str(error))
        return {}
    holders = {}
    for manifest in found:  # oldest first: the newest holder wins
        for item in manifest["items"]:
            for key in ("path", "snapshot", "s3"):
                if item.get(key):
                    holders[item[key]] = (manifest, item)
    return holders


def locate_one(backup, holders, now):
    """The row of one backup the rollback would use: its restore point (or none) and when it was taken."""
    manifest, item = holders.get(backup, (None, None))
    if manifest is not None:
        taken = item.get("taken_at") or manifest.get("finished")
        return dict(backup=backup, restore_point=manifest["restore_point"], deploy_id=manifest.get("deploy_id"),
                    kind=item.get("kind"), taken=taken, age_seconds=points.age_seconds(taken, now))
    row = dict(backup=backup, restore_point=None, deploy_id=None, kind=None, taken=None, age_seconds=None)
    if os.path.exists(backup):  # a backup taken outside rollback.core.backup: its file's time
        mtime = os.stat(backup).st_mtime
        row.update(taken=utc_iso(mtime), age_seconds=points.age_seconds(utc_iso(mtime), now))
    return row


def stale_warning(row, marker, owner):
    """The warning when ``row`` predates ``marker``'s deploy and was not taken for it; None otherwise."""
    if marker is None or row["taken"] is None or row["deploy_id"] == marker.deploy_id:
        return None
    if parse_time(row["taken"]) >= marker.started:
        return None
    return ("%s will restore %s (%s, taken %s, %s ago), older than the last deploy %s of %s (started %s): it also "
            "undoes what changed between them; take a restore point before each deploy (rollback.core.backup)"
            % (owner, row["restore_point"] or row["backup"], "restore point" if row["restore_point"] else
               "no restore point names it", row["taken"], points.age_text(row["age_seconds"]), marker.deploy_id,
               marker.service, marker.document["started_at"]))


def locate(module):
    """``action=locate``: the restore points behind ``backups``, with a warning per one older than the last deploy."""
    params, problems, warnings = module.params, [], []
    now = utc_now()
    holders = _holders(params["manifest_dir"], problems)
    marker = None
    if params["marker_dir"]:
        marker = newest_marker(params["marker_dir"], params["services"] or [params["owner"]], problems)
    rows = []
    for backup in params["backups"]:
        row = locate_one(backup, holders, now)
        row["stale"] = False
        warning = stale_warning(row, marker, params["owner"] or "the rollback")
        if warning:
            row["stale"] = True
            warnings.append(warning)
        rows.append(row)
    for line in problems + warnings:
        module.warn(line)
    return dict(changed=False, restore_points=rows, restore_point_warnings=warnings,
                last_deploy=marker.as_dict() if marker else None)
