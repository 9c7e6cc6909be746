# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run a rollback.core module inside Ansible's worker process instead of a new Python process (issue 22).

A module run on the controller (connection ``local`` with the controller's own Python, as the API-talking targets
are) costs a new interpreter, the AnsiballZ payload and the import of its client library (``kubernetes``,
``boto3``: ~0.3-0.5 s of CPU) for every task and host. Ansible forks one worker per task and host from the
controller process; defining a module's action class imports the module and its client libraries once, in the
controller, before the workers fork (the strategy loads the action class in the controller), so each worker has them
already, and the module's ``main()`` runs in the worker with exactly the arguments, check mode, diff, no_log and
environment ``_execute_module`` would give it. Its result goes through the same encoder and
``_parse_returned_data`` as a module process's output. This is what ansible.netcommon's ``import_modules`` does for
network modules.

Anything else (another interpreter, a remote host, become, async) runs as a module process as before.
Each module's action plugin (plugins/action/<module>.py, as ansible-test's action-plugin-docs wants) is this
``ActionModule``; ``rollback.core.target_module`` calls ``execute``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import gc
import importlib
import inspect
import io
import json
import os
import shutil
import tempfile

from ansible.module_utils import basic
from ansible.module_utils.common import json as module_json
from ansible.module_utils.common import warnings as module_warnings
from ansible.plugins.action.normal import ActionModule as NormalAction
from ansible.plugins.loader import filter_loader, test_loader
from ansible.utils.vars import merge_hash
from ansible.vars.clean import remove_internal_keys

from ansible_collections.rollback.core.plugins.module_utils import requirements
from ansible_collections.rollback.core.plugins.plugin_utils import controller_python, payload_cache

try:  # ansible-core >= 2.19: modules talk JSON through a serialization profile
    from ansible.module_utils import _internal as module_internal
    from ansible.module_utils.common.json import Direction
except ImportError:  # ansible-core < 2.19
    module_internal = Direction = None

PROFILE = "legacy"  # what ansible-core gives a module that declares none (module_common._DEFAULT_LEGACY_METADATA)
MODULES_PACKAGE = "ansible_collections.rollback.core.plugins.modules."
HTTP_CHECKS = "ansible_collections.rollback.core.plugins.module_utils.http_checks"
# migration_status runs once per database at most, and alembic + SQLAlchemy cost ~0.3 s of CPU: every run would pay
# it at start. The module imports them itself.
NOT_PRELOADED = ("migration_status",)


def libraries_of(module):
    """The client libraries a module (short name) may import on any of its platforms (module_utils/requirements.py),
    none for a module imported by itself."""
    if module in NOT_PRELOADED:
        return []
    return sorted(set(library for key, libraries in requirements.LIBRARIES.items() if key.split(":")[0] == module
                      for library, _pip in libraries))


def preload(freeze=gc.freeze):
    """Make the smoke checks' TLS context and load the collection's Jinja filters and tests and ansible-core's own,
    once, then freeze what the controller holds so far out of the garbage collector's reach. Every worker is a fork
    of the controller: a worker that loads a filter finds every filter file of its collection and compiles it (the
    collection loader keeps no bytecode), unless the controller's loader has them cached. A collection in a worker
    would walk the controller's objects again and write to each of them (its GC header), copying their pages (the use
    gc.freeze() is documented for). They stay alive for the run anyway. The payloads of the modules run by another
    Python are kept from one run to the next (payload_cache.py)."""
    payload_cache.share()
    try:  # the smoke checks' TLS context, with the system's CA certificates loaded once (module_utils/http_checks.py)
        importlib.import_module(HTTP_CHECKS).tls_context(True)
    except Exception:  # noqa: BLE001 - a check that needs it makes its own and fails with its own message
        pass
    for loader in (filter_loader, test_loader):
        list(loader.all())
    try:
        filter_loader.get("rollback.core.run_failures")  # loads every filter file of the collection
    except Exception:  # noqa: BLE001 - a broken filter file fails the task that uses it, with its own message
        pass
    freeze()


def preload_modules(names, freeze=gc.freeze):
    """Import these modules of the collection (short or FQCN names) and their client libraries, where installed,
    once, in the controller, then freeze them (see ``preload``). A worker that runs one would otherwise import it and
    its module_utils anew (~30 ms of CPU per task and host) and its library (``kubernetes``, ``boto3``: 0.3-0.5 s).
    Only the libraries of the modules a run uses: one module's ad-hoc run (an ``ansible`` command) imports that
    module's libraries, not all six (~1 s of CPU)."""
    for name in names:
        short = name.rsplit(".", 1)[-1]
        if short in NOT_PRELOADED:
            continue
        for library in libraries_of(short):
            try_import(library)
        try_import(MODULES_PACKAGE + short)
    freeze()


def try_import(name):
    """Import ``name`` if it imports. A library absent or broken here is reported by the module that needs it,
    and a module that fails to import fails again in its worker, with the error as the module's result."""
    try:
        importlib.import_module(name)
    except Exception:  # noqa: BLE001 - see above: the error belongs to the task that needs it
        pass


# Every action plugin of the collection imports this file: the controller loads an action class before it forks
# the task's workers, so this runs there, once per run.
preload()


def eligible(action, task_vars):
    """A module of this collection run locally by the controller's own Python, without become or async."""
    if action._task.async_val:
        return False
    interpreter = task_vars.get("ansible_python_interpreter")
    return controller_python.in_controller(action._connection.transport,
                                           None if interpreter is None else action._templar.template(interpreter),
                                           action._play_context.become)


def task_environment(action):
    """The task's ``environment:``, templated as ``_execute_module`` would give it to the module process."""
    environment = {}
    action._compute_environment_string(environment)
    merged = dict(action._connection._shell.env)
    merged.update(environment)
    return dict((str(name), str(value)) for name, value in merged.items())


@contextlib.contextmanager
def environ(values):
    saved = dict(os.environ)
    os.environ.update(values)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@contextlib.contextmanager
def as_module():
    """ansible-core >= 2.19 displays a warning at once when it is raised in the controller; a module returns it."""
    if Direction is None:
        yield
        return
    saved = module_internal.is_controller
    module_internal.is_controller = False
    try:
        yield
    finally:
        module_internal.is_controller = saved


def encoded(args):
    if Direction is None:
        return json.dumps(dict(ANSIBLE_MODULE_ARGS=args), cls=module_json.AnsibleJSONEncoder, vault_to_text=True)
    encoder = module_json.get_module_encoder(PROFILE, Direction.CONTROLLER_TO_MODULE)
    return json.dumps(dict(ANSIBLE_MODULE_ARGS=args), cls=encoder)


def reset_module_globals():
    """What a new module process starts with: a worker runs every item of a loop."""
    basic._ANSIBLE_ARGS = None
    if hasattr(basic, "_ANSIBLE_PROFILE"):
        basic._ANSIBLE_PROFILE = None
    for name in ("_global_warnings", "_global_deprecations"):
        value = getattr(module_warnings, name, None)
        if value is not None:
            value.clear()


def parse(action, stdout, stderr, rc):
    res = dict(rc=rc, stdout=stdout, stdout_lines=stdout.splitlines(), stderr=stderr, stderr_lines=stderr.splitlines())
    if "profile" in inspect.signature(action._parse_returned_data).parameters:
        return action._parse_returned_data(res, PROFILE)
    return action._parse_returned_data(res)


def run(action, module_name, module_args, task_vars):
    """``action._execute_module(module_name, module_args, task_vars=task_vars)``, in this process."""
    args = dict(module_args)
    tmpdir = tempfile.mkdtemp(prefix="ansible-in-worker-")
    try:
        action._update_module_args(module_name, args, task_vars)
        args["_ansible_tmpdir"] = tmpdir
        environment = task_environment(action)
        module = importlib.import_module(MODULES_PACKAGE + module_name.rsplit(".", 1)[-1])
        reset_module_globals()
        basic._ANSIBLE_ARGS = encoded(args).encode("utf-8")
        if hasattr(basic, "_ANSIBLE_PROFILE"):
            basic._ANSIBLE_PROFILE = PROFILE
        stdout, stderr, rc = io.StringIO(), io.StringIO(), 0
        with environ(environment), as_module(), contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            try:
                module.main()
            except SystemExit as exit_:
                rc = exit_.code if isinstance(exit_.code, int) else 1
        data = parse(action, stdout.getvalue(), stderr.getvalue(), rc)
    finally:
        reset_module_globals()
        shutil.rmtree(tmpdir, ignore_errors=True)
    remove_internal_keys(data)
    return data


def execute(action, module_name, module_args, task_vars):
    """The module's result, from this worker when it may run here, else from a module process."""
    if module_name.startswith("rollback.core.") and eligible(action, task_vars):
        return run(action, module_name, module_args, task_vars)
    return action._execute_module(module_name=module_name, module_args=module_args, task_vars=task_vars)


class ActionModule(NormalAction):
    """The action of every module of the collection: ansible-core's ``normal`` action, in the worker when it may."""

    def __init_subclass__(cls, **kwargs):
        # plugins/action/<module>.py defines its class when the controller loads it: its module and libraries are
        # imported then.
        super(ActionModule, cls).__init_subclass__(**kwargs)
        preload_modules([cls.__module__])

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        if not eligible(self, task_vars):
            return super(ActionModule, self).run(tmp, task_vars)
        result = super(NormalAction, self).run(tmp, task_vars)  # ActionBase's checks, without a module process
        try:
            return merge_hash(result, run(self, self._task.resolved_action, self._task.args, task_vars))
        finally:
            self._remove_tmp_path(self._connection._shell.tmpdir)
