"""Run a module's main() inside the test process: the same argument parsing and code as under Ansible,
without the few seconds an ``ansible`` process costs on a loaded machine. For scenarios that need many
module runs against a simulator; tests of the Ansible wiring itself use the ``ansible_module`` fixture."""

import contextlib
import importlib
import json
import os
from unittest import mock

from ansible.module_utils import basic
from ansible.module_utils.common import warnings as ansible_warnings

try:
    from ansible.module_utils import _internal as module_internal
except ImportError:  # ansible-core < 2.19: warnings are always recorded
    module_internal = None
try:
    from ansible.module_utils.testing import patch_module_args
except ImportError:  # ansible-core < 2.19
    @contextlib.contextmanager
    def patch_module_args(args=None):
        with mock.patch.object(basic, "_ANSIBLE_ARGS", json.dumps({"ANSIBLE_MODULE_ARGS": args or {}}).encode()):
            yield


class _Exit(Exception):
    def __init__(self, result):
        super().__init__(result)
        self.result = result


def run(name, args, check=False, diff=False, env=None):
    """rollback.core.<name> with ``args``: its result dict, with ``failed`` and the module's ``warnings``."""
    main = importlib.import_module("ansible_collections.rollback.core.plugins.modules." + name).main

    def finish(failed):
        def exit_(self, **result):
            result["failed"] = failed
            raise _Exit(result)
        return exit_

    ansible_warnings._global_warnings.clear()  # a list or a dict, by ansible-core version
    result = None
    # Once any controller code is imported into the test process (ansible._internal sets is_controller),
    # module.warn() would print instead of recording: a module process never has the controller loaded.
    as_module = contextlib.nullcontext()
    if module_internal is not None:
        as_module = mock.patch.object(module_internal, "is_controller", False)
    with as_module, \
            mock.patch.object(basic.AnsibleModule, "exit_json", finish(False)), \
            mock.patch.object(basic.AnsibleModule, "fail_json", finish(True)), \
            mock.patch.dict(os.environ, env or {}), \
            patch_module_args(dict(args, _ansible_check_mode=check, _ansible_diff=diff)):
        try:
            main()
        except _Exit as done:
            result = done.result
    if result is None:
        raise AssertionError("rollback.core.%s returned without exit_json or fail_json" % name)
    result["warnings"] = list(ansible_warnings.get_warning_messages())
    return result
