# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # Matches WAIT_SPEC in plugins/module_utils/wait.py.
    DOCUMENTATION = r"""
options:
  wait:
    description:
      - Wait until the change has really taken effect (rollout finished,
        instance available, service active) before returning.
      - Never waits in check mode.
    type: bool
    default: true
  wait_timeout:
    description:
      - Seconds to wait before failing with the last state seen.
    type: int
    default: 300
  wait_sleep:
    description:
      - Seconds between two polls while waiting.
    type: float
    default: 1.0
"""
