"""Modules run inside Ansible's worker (plugins/plugin_utils/in_worker.py) get what a module process gets.

The reference is ansible-core's own path, ActionBase._execute_module: _update_module_args (check mode, diff, no_log),
_compute_environment_string (the task's environment), the module's JSON through the serialization profile and
_parse_returned_data. A worker runs every item of a loop, so nothing of one run may reach the next.
"""

import gc
import importlib
import os
import sys
import types

import pytest
from ansible.module_utils.basic import AnsibleModule
from ansible.parsing.dataloader import DataLoader
from ansible.playbook.play_context import PlayContext
from ansible.playbook.task import Task
from ansible.plugins import loader as plugin_loader
from ansible.plugins.action.normal import ActionModule as NormalAction
from ansible.template import Templar

from ansible_collections.rollback.core.plugins.module_utils import requirements
from ansible_collections.rollback.core.plugins.plugin_utils import controller_python, in_worker

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
PROBE = "rollback.core.in_worker_probe"


def probe_main():
    module = AnsibleModule(dict(value=dict(type="str"), secret=dict(type="str", no_log=True),
                                fail=dict(type="bool", default=False), warn=dict(type="str")),
                           supports_check_mode=True)
    if module.params["warn"]:
        module.warn(module.params["warn"])
    if module.params["fail"]:
        module.fail_json(msg="refused: %s" % module.params["value"])
    module.exit_json(changed=not module.check_mode, value=module.params["value"], check_mode=module.check_mode,
                     diff_mode=module._diff, secret_seen=module.params["secret"],
                     environment=os.environ.get("IN_WORKER_PROBE"), tmpdir=module.tmpdir)


@pytest.fixture(autouse=True)
def probe_module(monkeypatch):
    probe = types.ModuleType(in_worker.MODULES_PACKAGE + "in_worker_probe")
    probe.main = probe_main
    monkeypatch.setitem(sys.modules, probe.__name__, probe)


class FakeConnection:
    transport = "local"
    socket_path = None
    become = None

    def __init__(self):
        self._shell = plugin_loader.shell_loader.get("sh")


def action_for(task_vars=None, check_mode=False, diff=False, environment=None, no_log=False, transport="local",
               become=False, async_val=0):
    task = Task()
    task.action = PROBE
    task.check_mode = check_mode
    task.diff = diff
    task.no_log = no_log
    task.environment = environment or []
    task.async_val = async_val
    connection = FakeConnection()
    connection.transport = transport
    play_context = PlayContext()
    play_context.become = become
    variables = dict(task_vars or {})
    templar = Templar(loader=DataLoader(), variables=variables)
    return NormalAction(task, connection, play_context, DataLoader(), templar, plugin_loader)


def local_vars(**extra):
    return dict(ansible_python_interpreter=sys.executable, **extra)


def test_the_result_is_what_a_module_process_returns():
    action = action_for()
    result = in_worker.run(action, PROBE, dict(value="v1"), local_vars())
    assert result["value"] == "v1" and result["changed"] is True and result["check_mode"] is False
    assert result["invocation"]["module_args"]["value"] == "v1"
    # remove_internal_keys keeps only _ansible_parsed, as after a module process
    assert [key for key in result if key.startswith("_ansible_")] == ["_ansible_parsed"]


def test_check_mode_and_diff_reach_the_module():
    result = in_worker.run(action_for(check_mode=True, diff=True), PROBE, dict(value="v"), local_vars())
    assert result["check_mode"] is True and result["diff_mode"] is True and result["changed"] is False


def test_no_log_values_are_masked_in_the_result():
    result = in_worker.run(action_for(), PROBE, dict(value="v", secret="s3cr3t-value"), local_vars())
    assert "s3cr3t-value" not in repr(result)
    assert result["invocation"]["module_args"]["secret"] == "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"


def test_a_failure_is_a_failed_result_with_its_message():
    result = in_worker.run(action_for(), PROBE, dict(value="bad", fail=True), local_vars())
    assert result["failed"] is True and result["msg"] == "refused: bad"


def test_a_warning_is_returned_with_the_result_not_shown_at_once():
    result = in_worker.run(action_for(), PROBE, dict(value="v", warn="a guess"), local_vars())
    warnings = [getattr(w, "event", None) and w.event.msg or str(w) for w in result.get("warnings", [])]
    assert any("a guess" in warning for warning in warnings), result


def test_nothing_of_one_loop_item_reaches_the_next():
    action = action_for()
    first = in_worker.run(action, PROBE, dict(value="one", warn="first item only"), local_vars())
    second = in_worker.run(action, PROBE, dict(value="two"), local_vars())
    assert first.get("warnings") and not second.get("warnings")
    assert second["value"] == "two" and "warn" not in [k for k, v in second["invocation"]["module_args"].items() if v]


def test_the_task_environment_reaches_the_module_and_is_restored():
    os.environ.pop("IN_WORKER_PROBE", None)
    action = action_for(environment=[{"IN_WORKER_PROBE": "from-the-task"}])
    result = in_worker.run(action, PROBE, dict(value="v"), local_vars())
    assert result["environment"] == "from-the-task"
    assert "IN_WORKER_PROBE" not in os.environ


def test_the_module_temporary_directory_is_removed():
    result = in_worker.run(action_for(), PROBE, dict(value="v"), local_vars())
    assert result["tmpdir"] and not os.path.exists(result["tmpdir"])


@pytest.mark.parametrize("change", [
    dict(transport="ssh"), dict(become=True), dict(async_val=30),
])
def test_only_a_local_run_without_become_or_async_is_eligible(change):
    assert in_worker.eligible(action_for(), local_vars())
    assert not in_worker.eligible(action_for(**change), local_vars())


def test_another_interpreter_runs_a_module_process(tmp_path):
    assert not in_worker.eligible(action_for(), dict(ansible_python_interpreter="/usr/bin/python3.9"))
    assert not in_worker.eligible(action_for(), {})
    # A venv's python links to the system binary: the same resolved file in another directory is another Python.
    (tmp_path / "python3").symlink_to(os.path.realpath(sys.executable))
    assert not in_worker.eligible(action_for(), dict(ansible_python_interpreter=str(tmp_path / "python3")))


def test_the_controller_python_by_another_name_in_its_directory_is_the_same(tmp_path):
    (tmp_path / "python3.99").symlink_to("/usr/bin/env")
    (tmp_path / "python3").symlink_to("python3.99")
    (tmp_path / "python").symlink_to("python3")
    assert controller_python.same_python(str(tmp_path / "python"), str(tmp_path / "python3"))
    assert not controller_python.same_python(str(tmp_path / "python"), "/usr/bin/env")


def test_every_module_has_the_in_worker_action():
    """ansible-test's action-plugin-docs wants each action plugin named after its module (a redirect in
    meta/runtime.yml would make ansible-lint's fqcn[canonical] name the action's module instead)."""
    import importlib

    modules = sorted(name[:-3] for name in os.listdir(os.path.join(REPO, "plugins", "modules"))
                     if name.endswith(".py") and name not in ("__init__.py", "target_module.py"))
    for name in modules:
        action = importlib.import_module("ansible_collections.rollback.core.plugins.action." + name)
        assert issubclass(action.ActionModule, in_worker.ActionModule), name
        assert action.ActionModule is not in_worker.ActionModule, name


def test_a_modules_libraries_come_from_the_requirements_table_on_every_platform_but_not_the_migration_checks():
    """module_utils/requirements.py, so a module's new library is preloaded with its action too."""
    assert in_worker.libraries_of("rollout_undo") == ["docker", "kubernetes"]
    assert in_worker.libraries_of("backup") == ["boto3", "etcd3gw", "kubernetes"]
    assert in_worker.libraries_of("rds_snapshot_restore") == ["boto3"]
    assert in_worker.libraries_of("incident_report") == []
    assert in_worker.libraries_of("migration_status") == []
    assert set(library for module in requirements.LIBRARIES for library in in_worker.libraries_of(
        module.split(":")[0])) == {"boto3", "docker", "etcd3gw", "kubernetes", "psycopg2", "redis"}


def test_an_action_class_imports_only_its_modules_libraries_then_freezes_them(monkeypatch):
    """Workers are forks: what is imported and frozen in the controller is never imported again, nor walked (nor its
    pages copied) by a worker's collections. A run of one module (an ad-hoc ``ansible`` command) imports that
    module's libraries, not all six (~1 s of CPU)."""
    assert in_worker.preload_modules.__defaults__ == (gc.freeze,), "the real freeze by default"
    order = []
    monkeypatch.setattr(in_worker, "try_import", lambda name: order.append(("import", name)))
    monkeypatch.setattr(in_worker.preload_modules, "__defaults__", (lambda: order.append(("freeze",)),))
    type("ActionModule", (in_worker.ActionModule,), {"__module__": "ansible_collections.rollback.core.plugins.action."
                                                                   "swarm_service_rollback"})
    assert order == [("import", "docker"), ("import", in_worker.MODULES_PACKAGE + "swarm_service_rollback"),
                     ("freeze",)]
    del order[:]
    in_worker.preload_modules(["rollback.core.incident_report", "rollback.core.rds_snapshot_restore"],
                              freeze=lambda: order.append(("freeze",)))
    assert order == [("import", in_worker.MODULES_PACKAGE + "incident_report"), ("import", "boto3"),
                     ("import", in_worker.MODULES_PACKAGE + "rds_snapshot_restore"), ("freeze",)]


def test_importing_it_loads_no_client_library_and_freezes_after_the_tls_context(monkeypatch):
    order = []
    monkeypatch.setattr(in_worker.importlib, "import_module", lambda name: order.append(("import", name)))
    in_worker.preload(freeze=lambda: order.append(("freeze",)))
    assert order == [("import", in_worker.HTTP_CHECKS), ("freeze",)]
    assert in_worker.preload.__defaults__ == (gc.freeze,), "the real freeze by default"


def test_an_action_class_imports_its_module_in_the_controller_when_it_is_defined(monkeypatch):
    """The strategy loads a task's action class in the controller before it forks the task's workers: defining
    the class imports the module, so no worker imports (and compiles: the collection loader keeps no bytecode) it."""
    name = in_worker.MODULES_PACKAGE + "incident_report"
    monkeypatch.delitem(sys.modules, name, raising=False)
    type("ActionModule", (in_worker.ActionModule,), {"__module__": "ansible_collections.rollback.core.plugins.action."
                                                                   "incident_report"})
    assert name in sys.modules


def test_the_controller_makes_the_smoke_checks_tls_context_before_the_workers_fork():
    """Each worker's smoke checks then find it made: loading the CA certificates costs ~45 ms of CPU each time."""
    http_checks = importlib.import_module(in_worker.HTTP_CHECKS)
    http_checks._CONTEXTS.clear()
    in_worker.preload(freeze=lambda: None)
    assert set(http_checks._CONTEXTS) == {True}


def test_the_migration_checks_are_not_imported_with_their_action():
    """alembic + SQLAlchemy (~0.3 s of CPU) for a module that runs once per database at most."""
    name = in_worker.MODULES_PACKAGE + "migration_status"
    saved = sys.modules.pop(name, None)
    try:
        in_worker.preload_modules(["rollback.core.migration_status"])
        assert name not in sys.modules
    finally:
        if saved is not None:
            sys.modules[name] = saved


def test_target_modules_action_imports_every_module_it_may_run_and_their_libraries():
    action = importlib.import_module("ansible_collections.rollback.core.plugins.action.target_module")
    assert all(in_worker.MODULES_PACKAGE + name.rsplit(".", 1)[-1] in sys.modules for name in action.MODULES)
    libraries = set(library for name in action.MODULES for library in in_worker.libraries_of(name.rsplit(".", 1)[-1]))
    assert libraries == {"boto3", "docker", "etcd3gw", "kubernetes", "psycopg2"}
    assert all(library in sys.modules for library in libraries)


def test_the_collections_filters_are_loaded_before_the_workers_fork(monkeypatch):
    """A worker that templates rollback.core.run_failures finds the filter files in the loader's cache, inherited
    from the controller, instead of loading each file of plugins/filter/ again."""
    monkeypatch.setattr(plugin_loader.filter_loader, "_module_cache", {})
    in_worker.preload(freeze=lambda: None)
    cached = set(os.path.basename(path) for path in plugin_loader.filter_loader._module_cache)
    assert {"run.py", "report.py", "options.py"} <= cached


@pytest.mark.parametrize("connection,interpreter,become,expected", [
    ("local", sys.executable, False, True),
    ("ansible.builtin.local", sys.executable, "no", True),
    ("local", sys.executable, "yes", False),
    ("ssh", sys.executable, False, False),
    (None, sys.executable, None, False),
    # Not set: Ansible discovers one, which is not assumed to be the controller's.
    ("local", None, False, False),
    ("local", "/usr/bin/python3.9", False, False),
])
def test_a_host_runs_in_the_controller_python_only_locally_with_its_interpreter(
        connection, interpreter, become, expected):
    assert controller_python.in_controller(connection, interpreter, become) is expected


def run_calls(calls, merge_first=False, **action_options):
    target_module = importlib.import_module("ansible_collections.rollback.core.plugins.action.target_module")
    return target_module.run_calls(action_for(**action_options), [dict(dict(args={}, result={}), **call)
                                                                  for call in calls], local_vars(), merge_first)


def test_target_modules_calls_run_in_order_each_result_with_its_own_keys():
    result = run_calls([dict(module=PROBE, args=dict(value="a"), result=dict(source="etcd")),
                        dict(module=PROBE, args=dict(value="b"), result=dict(source="env_file"))])
    assert [(r["value"], r["source"]) for r in result["results"]] == [("a", "etcd"), ("b", "env_file")]
    assert result["changed"] is True and "failed" not in result
    # the timeline counts the modules' own time as waiting, not as Ansible's overhead
    assert result["duration"] == round(sum(r.get("duration", 0.0) for r in result["results"]), 3)


def test_target_modules_calls_stop_at_the_first_failure_with_its_message():
    result = run_calls([dict(module=PROBE, args=dict(value="a")), dict(module=PROBE, args=dict(value="bad", fail=True)),
                        dict(module=PROBE, args=dict(value="c"))])
    assert [r["value"] if "value" in r else r["msg"] for r in result["results"]] == ["a", "refused: bad"]
    assert result["failed"] is True and result["msg"] == "refused: bad"
    assert result["changed"] is True  # the first call changed something: the record must say so


def test_target_modules_calls_in_check_mode_change_nothing():
    result = run_calls([dict(module=PROBE, args=dict(value="a")), dict(module=PROBE, args=dict(value="b"))],
                       check_mode=True)
    assert result["changed"] is False and all(r["check_mode"] for r in result["results"])


def test_target_modules_call_that_does_not_answer_ends_the_calls_as_unreachable(monkeypatch):
    from ansible.errors import AnsibleConnectionFailure

    def execute(action, module_name, module_args, task_vars):
        if module_args["value"] == "down":
            raise AnsibleConnectionFailure("ssh: connect to host srv port 22: Connection refused")
        return dict(changed=True, value=module_args["value"])

    monkeypatch.setattr(in_worker, "execute", execute)
    result = run_calls([dict(module=PROBE, args=dict(value="a")), dict(module=PROBE, args=dict(value="down")),
                        dict(module=PROBE, args=dict(value="c"))])
    assert len(result["results"]) == 2 and result["unreachable"] is True
    assert result["msg"] == "ssh: connect to host srv port 22: Connection refused"


def test_target_modules_calls_merged_on_the_first_read_like_its_task_with_every_call_in_results():
    result = run_calls([dict(module=PROBE, args=dict(value="a"), result=dict(way="platform")),
                        dict(module=PROBE, args=dict(value="b"), result=dict(way="nginx"))], merge_first=True)
    assert (result["value"], result["way"]) == ("a", "platform"), "the first call's keys"
    assert [r["value"] for r in result["results"]] == ["a", "b"]
    assert result["duration"] == round(sum(r.get("duration", 0.0) for r in result["results"]), 3), \
        "the combination's keys win: the time of every call"
    failed = run_calls([dict(module=PROBE, args=dict(value="a")),
                        dict(module=PROBE, args=dict(value="bad", fail=True))], merge_first=True)
    assert failed["failed"] is True and failed["msg"] == "refused: bad", "the failure is the task's, not the first's"
    assert run_calls([], merge_first=True) == dict(results=[], changed=False, duration=0)


def test_merge_first_with_one_module_fails_and_runs_nothing(monkeypatch):
    target_module = importlib.import_module("ansible_collections.rollback.core.plugins.action.target_module")
    ran = []
    monkeypatch.setattr(in_worker, "execute", lambda *args: ran.append(args) or dict(changed=True))
    probe = action_for()
    action = target_module.ActionModule(probe._task, probe._connection, probe._play_context, probe._loader,
                                        probe._templar, plugin_loader)
    action._task.args = dict(module="rollback.core.traffic", args={}, merge_first=True)
    result = action.run(task_vars=local_vars())
    assert result["failed"] is True and result["msg"].startswith("merge_first is for calls")
    assert ran == [], "no module ran"


def test_no_calls_is_an_unchanged_result():
    assert run_calls([]) == dict(results=[], changed=False, duration=0)
