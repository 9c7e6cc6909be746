# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one wait spec shared by all modules, and the waiter that honours it.

A probe is a callable returning ``(done, state)``: ``done`` says whether the
wait is over, ``state`` is a short text of what was seen (a reason on timeout).
Per-system readiness predicates live beside their system (kubernetes.py, ...).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError
from ansible_collections.rollback.core.plugins.module_utils.progress import Record

WAIT_SPEC = dict(
    wait=dict(type="bool", default=True),
    wait_timeout=dict(type="int", default=300),
    wait_sleep=dict(type="float", default=1.0),
)


# The first pause of a wait; each next one doubles, up to the wait's sleep. A change that takes effect at once (most
# rollouts of a small service, a switch, a scale to zero) is seen within a tenth of a second instead of a whole
# sleep; a long wait (an RDS restore) soon polls at its sleep and costs a handful of extra reads in all.
FIRST_SLEEP = 0.1


class WaitTimeout(RollbackError):
    """Raised when a probe is not done within ``wait_timeout``."""


def wait_until(probe, what, timeout, sleep, clock=time.monotonic, sleeper=time.sleep):
    """Poll ``probe`` until done; return its last state or raise WaitTimeout.

    The probe runs at least once, even with a zero timeout, and never sleeps
    past the deadline. The pauses start at FIRST_SLEEP and double up to
    ``sleep``. While it waits, the last state is kept in a progress record the
    controller shows (progress.py).
    """
    deadline = clock() + timeout
    polls = 0
    pause = min(FIRST_SLEEP, sleep)
    record = Record(what, timeout, clock=clock)
    try:
        while True:
            done, state = probe()
            polls += 1
            if done:
                return state
            remaining = deadline - clock()
            if remaining <= 0:
                raise WaitTimeout(
                    "timed out after %ss waiting for %s: %s" % (timeout, what, state),
                    wait_state=state,
                    wait_polls=polls,
                )
            record.update(state)
            sleeper(min(pause, remaining))
            pause = min(pause * 2, sleep)
    finally:
        record.close()


class Waiter:
    """Applies a module's wait options: no wait when ``wait`` is false or in check mode."""

    def __init__(self, module, clock=time.monotonic, sleeper=time.sleep):
        self.enabled = module.params["wait"] and not module.check_mode
        self.timeout = module.params["wait_timeout"]
        self.sleep = module.params["wait_sleep"]
        self._clock = clock
        self._sleeper = sleeper

    def wait(self, probe, what):
        """Return the final state, or None when waiting is off."""
        if not self.enabled:
            return None
        return wait_until(probe, what, self.timeout, self.sleep, self._clock, self._sleeper)
