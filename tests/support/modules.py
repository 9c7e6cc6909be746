"""Run a module's main() in-process, as ansible-core's own unit tests do (test/units/modules/utils.py).

``set_module_args(args)`` is a context manager on every ansible-core we test: 2.19 ships
``ansible.module_utils.testing.patch_module_args``; before it, the arguments were the ``_ANSIBLE_ARGS``
bytes the module reads. ``exit_json``/``fail_json`` raise ``AnsibleExitJson``/``AnsibleFailJson`` carrying the
result, so a test sees exactly what Ansible would receive.
"""

import contextlib
import importlib
import json
import os
from unittest import mock

import yaml
from ansible.module_utils import basic

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

try:
    from ansible.module_utils.testing import patch_module_args
except ImportError:  # ansible-core < 2.19

    @contextlib.contextmanager
    def patch_module_args(args=None):
        payload = json.dumps({"ANSIBLE_MODULE_ARGS": args or {}}).encode()
        with mock.patch.object(basic, "_ANSIBLE_ARGS", payload):
            yield


class AnsibleExitJson(Exception):
    """The module called exit_json; ``result`` is the payload."""

    def __init__(self, result):
        super().__init__(result)
        self.result = result


class AnsibleFailJson(Exception):
    """The module called fail_json; ``result`` is the payload."""

    def __init__(self, result):
        super().__init__(result)
        self.result = result


def _exit_json(self, **result):
    result.setdefault("changed", False)
    raise AnsibleExitJson(result)


def _fail_json(self, **result):
    result["failed"] = True
    raise AnsibleFailJson(result)


@contextlib.contextmanager
def set_module_args(args, check_mode=False, diff=False):
    """Module arguments for the next main(), exit_json/fail_json raising instead of exiting."""
    args = dict(args, _ansible_check_mode=check_mode, _ansible_diff=diff)
    with patch_module_args(args), mock.patch.multiple(basic.AnsibleModule, exit_json=_exit_json,
                                                      fail_json=_fail_json):
        yield


def run_main(main, args, check_mode=False, diff=False):
    """``(failed, result)`` of one main() run."""
    with set_module_args(args, check_mode=check_mode, diff=diff):
        try:
            main()
        except AnsibleExitJson as done:
            return False, done.result
        except AnsibleFailJson as done:
            return True, done.result
    raise AssertionError("main() returned without exit_json or fail_json")


class _Captured(Exception):
    pass


def module_kwargs(main):
    """The keyword arguments main() gives AnsibleModule (argument_spec with shared specs merged, constraints)."""
    def capture(self, *args, **kwargs):
        raise _Captured(kwargs)

    with mock.patch.object(basic.AnsibleModule, "__init__", capture):
        try:
            main()
        except _Captured as captured:
            return captured.args[0]
    raise AssertionError("main() built no AnsibleModule")


def load_module(name):
    return importlib.import_module("ansible_collections.rollback.core.plugins.modules." + name)


def documented_options(name):
    """The module's options as ansible-doc shows them: its own plus those of its doc fragments."""
    module = load_module(name)
    doc = yaml.safe_load(module.DOCUMENTATION)
    options = {}
    for fragment in doc.get("extends_documentation_fragment") or []:
        namespace, collection, fragment_name = fragment.split(".")
        assert (namespace, collection) == ("rollback", "core"), "only our own fragments are expected"
        fragment_module = importlib.import_module(
            "ansible_collections.rollback.core.plugins.doc_fragments." + fragment_name)
        options.update(yaml.safe_load(fragment_module.ModuleDocFragment.DOCUMENTATION)["options"])
    options.update(doc.get("options") or {})
    return options
