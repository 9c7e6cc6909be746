"""Fixtures shared by the integration tests: the lab's facts and module runs.

The lab must be running (``./dev lab start``); its facts come from
``$LAB_DIR/lab.json`` (default ``.lab/lab.json``).
"""

import json
import os
import re
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LAB_DIR = os.environ.get("LAB_DIR", os.path.join(REPO, ".lab"))


@pytest.fixture(scope="session")
def lab():
    """The lab's connection facts (LAB_PG_PORT, LAB_ETCD_ENDPOINT, ...) as a dict."""
    path = os.path.join(LAB_DIR, "lab.json")
    if not os.path.exists(path):
        pytest.fail("the lab is not running: %s is missing (start it with ./dev lab start)" % path)
    with open(path) as handle:
        return json.load(handle)


@pytest.fixture(scope="session")
def lab_env(lab):
    """os.environ plus the lab's facts, for subprocesses (ansible, CLIs)."""
    env = dict(os.environ)
    env.update({key: str(value) for key, value in lab.items()})
    env["ANSIBLE_CONFIG"] = os.path.join(REPO, "ansible.cfg")
    env["PATH"] = os.pathsep.join([os.path.join(REPO, ".venv", "bin"), env.get("PATH", "")])
    return env


class ModuleRun:
    """One ad-hoc ``ansible localhost -m rollback.core.<name>`` run."""

    def __init__(self, completed):
        self.rc = completed.returncode
        self.stdout = completed.stdout
        self.stderr = completed.stderr
        self.result = self._parse(completed.stdout)

    @staticmethod
    def _parse(stdout):
        # The minimal callback prints "localhost | CHANGED => {json}".
        match = re.search(r"^localhost \| [A-Z!]+ => ", stdout, re.MULTILINE)
        if not match:
            return {}
        return json.JSONDecoder().raw_decode(stdout, match.end())[0]

    @property
    def failed(self):
        return bool(self.result.get("failed")) or self.rc != 0


@pytest.fixture
def ansible_module(lab_env):
    """Return ``run(name, args, check=False, diff=False, verbosity=0, env=None) -> ModuleRun``: the ``ansible``
    command line, for what pytest-ansible's dispatcher cannot do (check mode, --diff, -vvv output, another
    environment). It shadows pytest-ansible's own ``ansible_module`` here; use ``controller`` for plain runs."""

    def run(name, args, check=False, diff=False, verbosity=0, env=None):
        command = ["ansible", "localhost", "-c", "local", "-i", "localhost,", "-m", "rollback.core." + name,
                   "-a", json.dumps(args), "-e", "ansible_python_interpreter=" + os.path.join(REPO, ".venv/bin/python")]
        if check:
            command.append("--check")
        if diff:
            command.append("--diff")
        if verbosity:
            command.append("-" + "v" * verbosity)
        run_env = dict(lab_env, ANSIBLE_STDOUT_CALLBACK="minimal", ANSIBLE_CALLBACK_RESULT_FORMAT="json")
        run_env.update(env or {})
        completed = subprocess.run(command, cwd=REPO, env=run_env, capture_output=True, text=True, timeout=900,
                                   check=False)
        return ModuleRun(completed)

    return run


@pytest.fixture
def module_batch(lab_env, tmp_path):
    """Return ``run([(name, args), ...], env=None, state=None, verbosity=0) -> [record]``: the calls as the tasks of
    one playbook (module_batch.py), each record read like a ModuleRun (failed, result, stdout) with the ``state``
    recorded right after it. For catalogues of calls: one Ansible start instead of one per call."""
    from module_batch import run_module_batch

    directory = tmp_path / "module-batch"
    directory.mkdir()

    def run(calls, env=None, state=None, verbosity=0):
        return run_module_batch(dict(lab_env, **(env or {})), calls, str(directory), state=state,
                                verbosity=verbosity)

    return run


class Controller:
    """pytest-ansible's module dispatcher for the controller: ``controller.<module>(**args)`` runs
    ``rollback.core.<module>`` on localhost in-process and returns pytest-ansible's ModuleResult
    (a dict with ``is_changed``, ``is_failed``, ``is_ok``)."""

    def __init__(self, hosts):
        self.hosts = hosts

    def __getattr__(self, name):
        dispatch = getattr(self.hosts.localhost, "rollback.core." + name)
        return lambda **args: dispatch(**args)["localhost"]


@pytest.fixture(scope="session")
def controller_inventory(tmp_path_factory):
    """localhost with the local connection and this venv's Python (interpreter discovery may find a broken shim)."""
    path = tmp_path_factory.mktemp("inventory") / "hosts.ini"
    path.write_text("localhost ansible_connection=local ansible_python_interpreter=%s\n" % sys.executable)
    return str(path)


@pytest.fixture
def controller(ansible_adhoc, controller_inventory):
    """Modules run through pytest-ansible (``ansible_adhoc``) on the controller; see Controller."""
    yield Controller(ansible_adhoc(inventory=controller_inventory, host_pattern="localhost", connection="local"))
    # ansible's TaskQueueManager marks the process's stdin, stdout and stderr non-inheritable (task_queue_manager.py,
    # "only needed for commands that execute tasks"). Run in-process, that left every later subprocess of the suite
    # without a stdin: the lab's systemctl (sys.stdin None) failed in every test after test_rollback_lock.py.
    for fd in (0, 1, 2):
        os.set_inheritable(fd, True)


@pytest.fixture(scope="module", autouse=True)
def good_release_after_module(lab_env):
    """Tests that deploy the bad release leave the lab as they found it: 1.0.0 everywhere."""
    yield
    from playbook_runs import restore_good

    restore_good(lab_env)


@pytest.fixture(autouse=True)
def untouched_bad_release_lasts_one_test():
    """playbook_runs.bad_release_untouched() lends the deploy to the next test only: after it, whether or not it
    used it, the next deploy_bad deploys again."""
    from playbook_runs import UNTOUCHED_BAD

    lent = list(UNTOUCHED_BAD)
    yield
    if lent:
        del UNTOUCHED_BAD[:]


@pytest.fixture(scope="session")
def level3_drill(lab, lab_env, tmp_path_factory):
    """playbooks/drill.yml at level 3 and -vvv, run once (about a minute) for test_playbook_rollback (what it
    restored, what it told the maintenance endpoint and the status page) and test_secrets (what it printed and
    wrote)."""
    from playbook_runs import DrillRun

    return DrillRun(lab, lab_env, str(tmp_path_factory.mktemp("drill")))


@pytest.fixture
def s3_db(lab):
    """A database of its own with 3 orders, dropped (with what a restore left) at the end (test_backup*)."""
    import uuid

    from test_migration_status import query
    name = "rbt_s3_%s" % uuid.uuid4().hex[:8]

    def sql(database, statement):
        return query(lab, database, statement)

    sql("postgres", "CREATE DATABASE %s" % name)
    sql(name, "CREATE TABLE orders (id int PRIMARY KEY); INSERT INTO orders VALUES (1), (2), (3)")
    yield name, sql
    for (database,) in sql("postgres", "SELECT datname FROM pg_database WHERE datname LIKE '%s%%'" % name):
        sql("postgres", "DROP DATABASE %s WITH (FORCE)" % database)
