# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # Matches SELECTION_SPEC in plugins/module_utils/backups.py.
    DOCUMENTATION = r"""
options:
  backup_dir:
    description:
      - Directory to take the newest backup from, instead of O(backup) - the file whose name matches
        O(backup_pattern) and sorts last (the runbooks' dated names sort by time; a copy changes a file's time,
        never its name). No match fails with nothing changed.
      - An C(s3://bucket/prefix) takes the newest object directly under the prefix (kept in S3 by
        M(rollback.core.backup) O(rollback.core.backup#module:storage)), fetched as for O(backup).
    type: path
  backup_pattern:
    description:
      - Shell pattern of the backup names in O(backup_dir). The copies a restore saves (C(*.pre-rollback-*))
        never match.
    type: str
    default: "*"
"""
