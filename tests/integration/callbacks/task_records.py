"""Test-only callback (module_batch.py): what each task returned and, if asked, the lab's state right after it.

A batch of module calls runs as one playbook, one task per call. The controller sends a task's result to the
callbacks before it starts the next task (one host, linear strategy), so a state recorded here is the lab as that
task left it. The records go to $TASK_RECORDS as JSON when the playbook ends. $TASK_RECORDS_STATE names a
function (``module:name``, a module under tests/) called after each task with the lab's facts (the environment)
and the keywords in $TASK_RECORDS_STATE_KEYWORDS; its return is the record's state.
"""

import importlib
import json
import os
import sys

from ansible.plugins.callback import CallbackBase

INTEGRATION = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [INTEGRATION, os.path.dirname(INTEGRATION)]  # tests/integration (the test files), tests/ (support)


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "task_records"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.records = {}
        self.state = None
        if os.environ.get("TASK_RECORDS_STATE"):
            module, name = os.environ["TASK_RECORDS_STATE"].split(":")
            keywords = json.loads(os.environ.get("TASK_RECORDS_STATE_KEYWORDS") or "{}")
            function = getattr(importlib.import_module(module), name)
            self.state = lambda: function(os.environ, **keywords)

    def _record(self, result, failed):
        record = dict(failed=bool(failed), result=json.loads(json.dumps(result._result, default=str)))
        if self.state:
            record["state"] = json.loads(json.dumps(self.state(), default=str))
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
