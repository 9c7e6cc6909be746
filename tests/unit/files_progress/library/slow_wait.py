# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Test fixture: a module that waits O(seconds) through the collection's one waiter, as the real modules do."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

from ansible_collections.rollback.core.plugins.module_utils.base import RollbackModule
from ansible_collections.rollback.core.plugins.module_utils.wait import WAIT_SPEC, Waiter


def run(module):
    end = time.monotonic() + module.params["seconds"]

    def probe():
        left = end - time.monotonic()
        return left <= 0, "countdown-%ds" % max(0, left)

    return dict(state=Waiter(module).wait(probe, "the test clock"))


def main():
    module = RollbackModule(dict(seconds=dict(type="float", required=True)), shared_specs=(WAIT_SPEC,))
    module.run(run)


if __name__ == "__main__":
    main()
