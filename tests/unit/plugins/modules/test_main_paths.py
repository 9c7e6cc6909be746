"""Each module's main(): the module it builds reaches its action with check mode, --diff and the spec's defaults;
the action's result is what Ansible gets (changed from the action, duration added); a RollbackError is one line
with its details; anything else is named as unexpected; a missing library is refused, naming the pip package,
before the action runs."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest
from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError
from module_table import MODULES, patch, resolve
from support.modules import load_module, module_kwargs, run_main

NAMES = sorted(MODULES)


def patch_action(monkeypatch, name, action):
    owner, attribute = resolve(load_module(name), MODULES[name]["action"])
    original = owner[attribute] if isinstance(owner, dict) else getattr(owner, attribute)
    patch(monkeypatch, owner, attribute, action)
    return original


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("check_mode,diff", [(False, False), (True, True)])
def test_the_action_gets_the_module_and_its_result_is_returned(monkeypatch, name, check_mode, diff):
    seen = {}

    def action(module, *extra):
        seen.update(check_mode=module.check_mode, diff=module._diff, params=dict(module.params))
        return dict(changed=True, answer=42)

    patch_action(monkeypatch, name, action)
    failed, result = run_main(load_module(name).main, MODULES[name]["args"], check_mode=check_mode, diff=diff)
    assert not failed, result
    assert result["changed"] is True and result["answer"] == 42 and result["duration"] >= 0
    assert (seen["check_mode"], seen["diff"]) == (check_mode, diff)
    spec = module_kwargs(load_module(name).main)["argument_spec"]
    defaults = {option: entry["default"] for option, entry in spec.items() if "default" in entry}
    for option, default in defaults.items():
        if option not in MODULES[name]["args"]:
            assert seen["params"][option] == default, option


@pytest.mark.parametrize("name", NAMES)
def test_a_rollback_error_is_one_line_with_its_details(monkeypatch, name):
    def action(module, *extra):
        raise RollbackError("revision 7 not found\n  available: 3, 4", available=[3, 4])

    patch_action(monkeypatch, name, action)
    failed, result = run_main(load_module(name).main, MODULES[name]["args"])
    assert failed
    assert result["msg"] == "revision 7 not found; available: 3, 4"
    assert result["available"] == [3, 4] and result["duration"] >= 0
    assert "changed" not in result


@pytest.mark.parametrize("name", NAMES)
def test_an_unexpected_error_is_named(monkeypatch, name):
    def action(module, *extra):
        raise KeyError("status")

    patch_action(monkeypatch, name, action)
    failed, result = run_main(load_module(name).main, MODULES[name]["args"])
    assert failed and result["msg"] == "unexpected error: KeyError: 'status'"
    assert "KeyError" in result["exception"]


LIBRARIES = [(name, where, pip_name, extra) for name in NAMES for where, pip_name, extra in MODULES[name]["libraries"]]


@pytest.mark.parametrize("name,where,pip_name,extra", LIBRARIES, ids=["%s-%s" % (c[0], c[2]) for c in LIBRARIES])
def test_a_missing_library_is_refused_before_the_action(monkeypatch, name, where, pip_name, extra):
    module = load_module(name)
    owner, attribute = resolve(module, where)
    patch(monkeypatch, owner, attribute, "Traceback: ImportError: No module named %s" % pip_name)
    patch_action(monkeypatch, name, lambda *a: pytest.fail("the action ran without its library"))
    failed, result = run_main(module.main, dict(MODULES[name]["args"], **extra))
    assert failed
    assert "pip install %s" % pip_name in result["msg"] and "\n" not in result["msg"]
    assert "ImportError" in result["exception"]


def test_the_file_lock_needs_no_etcd_library(monkeypatch, tmp_path):
    module = load_module("rollback_lock")
    monkeypatch.setattr(module, "ETCD_IMPORT_ERROR", "Traceback: ImportError: No module named etcd3gw")
    failed, result = run_main(module.main, dict(name="production", run_id="run-1", lock_dir=str(tmp_path)))
    assert not failed and result["changed"], result
    assert (tmp_path / "production.lock").exists()
