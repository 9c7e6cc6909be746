# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # Matches DECRYPT_SPEC in plugins/module_utils/backup_crypt.py.
    DOCUMENTATION = r"""
options:
  decrypt_identity:
    description:
      - The age identity file (C(age-keygen) output, or an SSH private key) that decrypts a backup
        M(rollback.core.backup) encrypted (O(rollback.core.backup#module:encrypt)). An encrypted backup is named
        C(<name>.age); the newest backup of the pattern is chosen among plain and encrypted ones alike (the C(.age)
        aside), and an encrypted one is decrypted with C(age --decrypt -i) into a 0600 temporary file that is
        restored and removed at the end (its time is the backup's, for the data-loss window).
      - An encrypted backup without this option, an unreadable file or an identity that does not decrypt it fails
        in the plan, before any change. The key's content is never logged. Requires C(age) on the host.
    type: path
"""
