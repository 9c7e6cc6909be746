# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: timeline
type: aggregate
short_description: Time each rollback phase against the level's RTO budget
description:
  - Groups tasks into phases and records each phase's start, end, duration, status and changed tasks.
  - A task's phase is the value of the variable C(rollback_timeline_phase) or C(phase_name) where an include sets
    one, templated with the task's own variables only (the level role names each phase from its row - traffic_stop,
    database, config, app, traffic_resume,
    verify), else its role (preflight, lock, report, ...), else its play's name.
  - C(module_seconds) is the time the run waited in rollback.core modules (for each task, the longest duration
    a module reported across hosts); the rest of the total is Ansible's own overhead. Each phase has its own
    C(module_seconds), shown beside its duration (a phase's time outside its modules is Ansible's).
  - The timeline is written at the start of every play and at the end of the run, so the report play of a
    rollback reads the phases before it.
  - At the end of the run, prints the timeline with the total against the budget of the rollback level given as
    the C(level) extra var (1 - 300 s, 2 - 600 s, 3 - 900 s, the runbooks' 5/10/15 minutes) and writes it as
    JSON to O(output) for the incident report.
version_added: 0.1.0
author:
  - rollback.core maintainers (@rollback-core)
requirements:
  - enable in ansible.cfg (C(callbacks_enabled = rollback.core.timeline)) or with ANSIBLE_CALLBACKS_ENABLED
options:
  output:
    description:
      - Path of the JSON timeline. When unset, a file in the temporary directory, whose path the callback puts
        in the environment variable C(ROLLBACK_TIMELINE_FILE) of the run for the report to read; that file is
        removed at the end of the run (the report keeps the timeline).
    type: path
    env:
      - name: ROLLBACK_TIMELINE_FILE
    ini:
      - section: callback_timeline
        key: output
  clock_start:
    description:
      - Phases whose first start starts the clock. Phases before it (a drill's deploys) are listed with a
        negative start and are not counted in the total measured against the budget.
    type: list
    elements: str
    default: [detect, preflight]
    env:
      - name: ROLLBACK_TIMELINE_CLOCK_START
    ini:
      - section: callback_timeline
        key: clock_start
  progress_interval:
    description:
      - 'While a task runs, each wait of a rollback.core module that runs on the controller (RDS status, a
        rollout, Swarm tasks, target draining, an invalidation, ...) is shown as a line
        C(waiting: <host> <what> state=<state> <elapsed> (timeout <timeout>)) after half this many seconds,
        then every this many seconds. C(0) shows none.'
      - The modules keep the record in a directory the callback makes for the run and names in the environment
        variable C(ROLLBACK_PROGRESS_DIR); a module run over SSH on another host does not see it.
      - 'A task that runs as long on hosts with no such record (a module run over SSH on another host, a
        C(pg_restore) on a remote database host, any task that waits outside the shared waiter) is shown on the
        same schedule without a state, one line per task - C(running: <hosts> "<task>" <elapsed>), naming three
        hosts and counting the others. A host whose record has just ended stays quiet for one interval first.'
    type: float
    default: 10
    env:
      - name: ROLLBACK_PROGRESS_INTERVAL
    ini:
      - section: callback_timeline
        key: progress_interval
  budgets:
    description: RTO budget in seconds per level, as C(level=seconds) pairs.
    type: list
    elements: str
    default: ["1=300", "2=600", "3=900"]
    env:
      - name: ROLLBACK_TIMELINE_BUDGETS
    ini:
      - section: callback_timeline
        key: budgets
"""

import json
import os
import tempfile
import time

from ansible.parsing.dataloader import DataLoader
from ansible.plugins.callback import CallbackBase
from ansible.template import Templar
from ansible_collections.rollback.core.plugins.plugin_utils.progress_lines import ProgressLines


# Tasks that only pull in other tasks or check a role's arguments: they belong to no phase of their own.
INCLUDES = frozenset(prefix + name for prefix in ("", "ansible.builtin.", "ansible.legacy.")
                     for name in ("include_role", "include_tasks", "import_role", "import_tasks",
                                  "validate_argument_spec"))


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "rollback.core.timeline"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super(CallbackModule, self).__init__(*args, **kwargs)
        self.started = time.time()
        self.clock = None
        self.phases = []
        self.module_wait = {}
        self.level = None
        self._play_name = ""
        self._loader = DataLoader()
        self._progress = None
        self._own_output = None
        # A task's phase, by task: every host's result of it names the same phase (an included task has the
        # include's vars, the same for the hosts that share the include); templating it per result cost the
        # controller ~10 % of its time with 20 hosts.
        self._phase_names = {}

    def _named_phase(self, task):
        if task._uuid not in self._phase_names:
            self._phase_names[task._uuid] = self._task_phase(task)
        return self._phase_names[task._uuid]

    def _task_phase(self, task):
        variables = task.get_vars()
        for key in ("rollback_timeline_phase", "phase_name"):
            value = variables.get(key)
            if isinstance(value, str) and "{" in value:
                # A phase named from a loop item (the level role's rows): the item is in the task's own vars.
                value = self._template(value, variables)
            if isinstance(value, str) and value and "{" not in value:
                return value
        return None

    def _template(self, value, variables):
        try:
            return Templar(loader=self._loader, variables=variables).template(value)
        except Exception:  # noqa: BLE001 - a name the task's own vars cannot give: fall back to the role
            return None

    def _phase(self, task):
        role = getattr(task, "_role", None)
        name = self._named_phase(task) or (role.get_name(include_role_fqcn=False) if role else None) or (
            self._play_name or "play")
        if not self.phases or self.phases[-1]["name"] != name:
            now = time.time()
            if self.clock is None and name in self.get_option("clock_start"):
                self.clock = now
            self.phases.append(dict(name=name, start=now, end=now, status="ok", tasks=0, changed=0, failed=0,
                                    waits={}))
        return self.phases[-1]

    def v2_playbook_on_start(self, playbook):
        if not self.get_option("output"):
            handle, path = tempfile.mkstemp(prefix="rollback-timeline-", suffix=".json")
            os.close(handle)
            self.set_option("output", path)
            self._own_output = path
        # Workers fork from this process: the report play reads the path from its environment.
        os.environ["ROLLBACK_TIMELINE_FILE"] = self.get_option("output")
        if self.get_option("progress_interval") > 0:
            self._progress = ProgressLines(self._display, self.get_option("progress_interval"))
            self._progress.start()

    def v2_playbook_on_play_start(self, play):
        self._play_name = play.get_name().strip()
        extra = play.get_variable_manager().extra_vars
        if extra.get("level") is not None:
            self.level = str(extra.get("level")).strip()
        if self.phases:
            self._write(self.timeline())

    def v2_playbook_on_task_start(self, task, is_conditional):
        if task.action not in INCLUDES:
            self._phase(task)

    def v2_playbook_on_handler_task_start(self, task):
        self._phase(task)

    def _finish(self, result, failed=False):
        if self._progress is not None:
            self._progress.task_ended(result._host.get_name(), result._task)
        if result._task.action in INCLUDES:
            return
        phase = self._phase(result._task)
        phase["end"] = time.time()
        # rollback.core modules report their own duration: the longest across hosts is what the task waited.
        duration = result._result.get("duration")
        if isinstance(duration, (int, float)):
            key = result._task._uuid
            self.module_wait[key] = max(self.module_wait.get(key, 0.0), float(duration))
            phase["waits"][key] = self.module_wait[key]
        phase["tasks"] += 1
        if result._result.get("changed"):
            phase["changed"] += 1
        if failed:
            phase["failed"] += 1
            phase["status"] = "failed"

    def v2_runner_on_ok(self, result):
        self._finish(result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._finish(result, failed=not ignore_errors)

    def v2_runner_on_unreachable(self, result):
        self._finish(result, failed=True)

    def v2_runner_on_skipped(self, result):
        self._finish(result)

    def timeline(self):
        budgets = dict(item.split("=", 1) for item in self.get_option("budgets"))
        budget = float(budgets[self.level]) if self.level in budgets else None
        origin = self.clock or self.started
        total = round(time.time() - origin, 3)
        phases = [dict(name=p["name"], start=round(p["start"] - origin, 3), end=round(p["end"] - origin, 3),
                       duration=round(p["end"] - p["start"], 3), module_seconds=round(sum(p["waits"].values()), 3),
                       status=p["status"], tasks=p["tasks"],
                       changed=p["changed"], failed=p["failed"]) for p in self.phases]
        return dict(level=self.level, budget_seconds=budget, total_seconds=total,
                    module_seconds=round(sum(self.module_wait.values()), 3),
                    within_budget=None if budget is None else total <= budget,
                    started=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(origin)), phases=phases)

    def v2_runner_on_start(self, host, task):
        if self._progress is not None:
            self._progress.task_started(host.get_name(), task)

    def v2_playbook_on_stats(self, stats):
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
        timeline = self.timeline()
        self._display.banner("ROLLBACK TIMELINE")
        for phase in timeline["phases"]:
            self._display.display("%-24s %+9.1fs %8.1fs  %-6s %d task(s), %d changed, %.1fs in modules" % (
                phase["name"], phase["start"], phase["duration"], phase["status"], phase["tasks"], phase["changed"],
                phase["module_seconds"]))
        if timeline["budget_seconds"] is None:
            self._display.display("total %.1fs (no level given: no budget)" % timeline["total_seconds"])
        else:
            self._display.display("total %.1fs of the level %s budget %.0fs: %s" % (
                timeline["total_seconds"], timeline["level"], timeline["budget_seconds"],
                "within budget" if timeline["within_budget"] else "OVER BUDGET"))
        if self._own_output:
            # Read by the report play; a file of each run left in the temporary directory is a leak.
            try:
                os.remove(self._own_output)
            except OSError:
                pass
        else:
            self._write(timeline)

    def _write(self, timeline):
        output = self.get_option("output")
        if not output:
            return
        directory = os.path.dirname(os.path.abspath(output))
        if not os.path.isdir(directory):
            os.makedirs(directory)
        with open(output + ".tmp", "w") as handle:
            json.dump(timeline, handle, indent=2)
        os.rename(output + ".tmp", output)
