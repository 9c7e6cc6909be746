# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The shared module base: one failure path, timing, before/after results.

Every module builds a RollbackModule and hands its work to ``run()``. Expected
failures raise RollbackError; anything else is reported as an unexpected error.
Both leave through the same ``fail_json`` with ``msg``, the traceback and the
time spent, so a failed run always looks the same to playbooks and reports.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time
import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.rollback.core.plugins.module_utils import progress


class RollbackError(Exception):
    """A failure whose message is meant for the on-call engineer as it is.

    ``details`` are returned beside ``msg`` (e.g. what was found, what changed).
    """

    def __init__(self, msg, **details):
        super(RollbackError, self).__init__(msg)
        self.msg = msg
        self.details = details


def one_line(text):
    """Tools' stderr often spans lines; the on-call engineer gets one line."""
    return "; ".join(line.strip() for line in str(text).strip().splitlines() if line.strip())


class RollbackModule(AnsibleModule):
    """AnsibleModule with the collection's shared specs and its one exit path."""

    def __init__(self, argument_spec, shared_specs=(), **kwargs):
        spec = {}
        for shared in shared_specs:
            spec.update(shared)
        spec.update(argument_spec)
        super(RollbackModule, self).__init__(argument_spec=spec, **kwargs)
        self.started = time.monotonic()
        progress.set_module(self._name)

    def elapsed(self):
        return round(time.monotonic() - self.started, 3)

    def require_library(self, name, import_error, pip_name=None):
        """Fail with one line naming the pip package when a library is absent."""
        if import_error is not None:
            self.fail_json(
                msg=missing_required_lib(name, reason="for this module", url=None)
                + " (pip install %s)" % (pip_name or name),
                exception=import_error,
            )

    def run(self, action):
        """Call ``action(self)`` and exit with the dict it returns."""
        try:
            result = action(self)
        except RollbackError as error:
            self.fail_json(
                msg=one_line(error.msg),
                exception=traceback.format_exc(),
                duration=self.elapsed(),
                **error.details
            )
        except Exception as error:  # noqa: BLE001 - the one unexpected-error path
            self.fail_json(
                msg="unexpected error: %s: %s" % (type(error).__name__, error),
                exception=traceback.format_exc(),
                duration=self.elapsed(),
            )
        result.setdefault("changed", False)
        result["duration"] = self.elapsed()
        self.exit_json(**result)

    def changed_result(self, before, after, **result):
        """A result whose ``changed`` and ``diff`` come from real before/after state."""
        result["changed"] = before != after
        if self._diff:
            result["diff"] = {"before": before, "after": after}
        return result
