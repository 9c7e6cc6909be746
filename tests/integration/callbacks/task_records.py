"""Test-only callback (module_batch.py): what each task returned and, if asked, the lab's state right after it.

A batch of module calls runs as one playbook, one task per call. The controller sends a task's result to the
callbacks before it starts the next task (one host, linear strategy), so a state recorded here is the lab as that
task left it. The records go to $TASK_RECORDS as JSON when the playbook ends; $TASK_RECORDS_LAB_STATE=1 adds the
state (lab_state.py, read from the lab's facts in the environment).
"""

import json
import os
import sys

from ansible.plugins.callback import CallbackBase

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "task_records"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.records = {}
        self.lab_state = None
        if os.environ.get("TASK_RECORDS_LAB_STATE") == "1":
            from lab_state import lab_state  # tests/integration, put on the path above

            self.lab_state = lab_state

    def _record(self, result, failed):
        record = dict(failed=bool(failed), result=json.loads(json.dumps(result._result, default=str)))
        if self.lab_state:
            record["state"] = self.lab_state(os.environ)
        self.records[result._task.get_name()] = record

    def v2_runner_on_ok(self, result):
        self._record(result, failed=False)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record(result, failed=True)

    def v2_runner_on_unreachable(self, result):
        self._record(result, failed=True)

    def v2_playbook_on_stats(self, stats):
        with open(os.environ["TASK_RECORDS"], "w") as handle:
            json.dump(self.records, handle)
