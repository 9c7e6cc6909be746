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
      - The longest pause, in seconds, between two polls while waiting.
      - The first pause is 0.1 seconds (or this, when shorter) and each next one doubles up to this, so a change
        that takes effect at once is seen at once.
    type: float
    default: 1.0
"""
