"""Many module calls as the tasks of one playbook: one `ansible-playbook` start instead of one `ansible` start
(about 2 s on 2 cores) per call, for the catalogues of bad input that each must be refused."""

import json
import os
import subprocess

from playbook_runs import PYTHON, REPO

CALLBACKS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "callbacks")


class TaskRecord:
    """One call's result, shaped like conftest.ModuleRun where the tests read it (failed, result, stdout)."""

    def __init__(self, record, output):
        self.found = record is not None
        record = record or dict(failed=True, result={})
        self.failed = record["failed"] or bool(record["result"].get("failed"))
        self.result = record["result"]
        self.state = record.get("state")
        self.stdout = json.dumps(self.result, sort_keys=True)[:2000] if self.found else output[-3000:]


class BatchRuns(list):
    """The TaskRecords of a batch, in call order, and the playbook's whole output (``output``)."""

    def __init__(self, records, output):
        super().__init__(records)
        self.output = output


def state_spec(state):
    """``function`` or ``(function, keywords)`` -> the environment that names it to the callback: a module-level
    function of a module under tests/ (a test file, lab_state.py), called as function(lab, **keywords) with the
    lab's facts, its JSON-able keywords, and a JSON-able return."""
    function, keywords = state if isinstance(state, tuple) else (state, {})
    return dict(TASK_RECORDS_STATE="%s:%s" % (function.__module__, function.__name__),
                TASK_RECORDS_STATE_KEYWORDS=json.dumps(keywords))


def run_module_batch(env, calls, directory, state=None, verbosity=0):
    """Run ``calls`` on localhost, each failure ignored so the next call still runs; return their BatchRuns.

    A call is (module, args) or (module, args, keywords), module without ``rollback.core.`` and keywords task
    keywords such as ``{"check_mode": True, "diff": True}``. ``state`` (see state_spec) is recorded right after
    each call, before the next one starts, as that record's ``state``: each case is judged alone.
    verbosity=3 runs the playbook at -vvv."""
    tasks = []
    for number, call in enumerate(calls):
        module, args, keywords = (tuple(call) + ({},))[:3]
        tasks.append(dict({"name": "call %d %s" % (number, module), "rollback.core." + module: args,
                           "ignore_errors": True}, **keywords))
    playbook = os.path.join(directory, "module_batch.json")
    with open(playbook, "w") as handle:
        json.dump([{"name": "A batch of module calls", "hosts": "localhost", "gather_facts": False, "tasks": tasks}],
                  handle)
    records = os.path.join(directory, "task_records.json")
    run_env = dict(env, ANSIBLE_CALLBACK_PLUGINS=CALLBACKS, ANSIBLE_CALLBACKS_ENABLED="task_records",
                   TASK_RECORDS=records, **(state_spec(state) if state else {}))
    command = [os.path.join(REPO, ".venv", "bin", "ansible-playbook"), playbook, "-i", "localhost,", "-c", "local",
               "-e", "ansible_python_interpreter=" + PYTHON]
    if verbosity:
        command.append("-" + "v" * verbosity)
    completed = subprocess.run(command, cwd=REPO, env=run_env, capture_output=True, text=True, timeout=900,
                               check=False)
    output = completed.stdout + completed.stderr
    try:
        with open(records) as handle:
            recorded = json.load(handle)
    except (OSError, ValueError):
        recorded = {}
    return BatchRuns([TaskRecord(recorded.get(task["name"]), output) for task in tasks], output)


def task_outputs(output):
    """The -v output of a batch split by task: {task name: its lines}, to say which call printed something."""
    parts = {}
    name = None
    for line in output.splitlines():
        if line.startswith("TASK ["):
            name = line[len("TASK ["):].split("]", 1)[0]
        parts.setdefault(name, []).append(line)
    return dict((key, "\n".join(lines)) for key, lines in parts.items())
