from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError, RollbackModule
from ansible_collections.rollback.core.plugins.module_utils.wait import WAIT_SPEC

SPEC = dict(name=dict(type="str", required=True), token=dict(type="str", no_log=True))


def make_main(action, shared_specs=()):
    def main():
        module = RollbackModule(SPEC, shared_specs=shared_specs, supports_check_mode=True)
        module.run(action)

    return main


def test_success_reports_changed_false_by_default_and_duration(run_module):
    failed, result = run_module(make_main(lambda m: {"seen": m.params["name"]}), {"name": "web"})
    assert not failed
    assert result["seen"] == "web"
    assert result["changed"] is False
    assert result["duration"] >= 0


def test_expected_error_has_one_message_details_and_traceback(run_module):
    def action(module):
        raise RollbackError("revision 7 not found; available: 3, 4", available=[3, 4])

    failed, result = run_module(make_main(action), {"name": "web"})
    assert failed
    assert result["msg"] == "revision 7 not found; available: 3, 4"
    assert result["available"] == [3, 4]
    assert "RollbackError" in result["exception"]
    assert "changed" not in result


def test_unexpected_error_is_named_not_swallowed(run_module):
    def action(module):
        raise KeyError("spec")

    failed, result = run_module(make_main(action), {"name": "web"})
    assert failed
    assert result["msg"] == "unexpected error: KeyError: 'spec'"
    assert "Traceback" in result["exception"]


def test_shared_specs_are_merged_and_validated(run_module):
    failed, result = run_module(make_main(lambda m: dict(m.params), (WAIT_SPEC,)), {"name": "web"})
    assert not failed
    assert (result["wait"], result["wait_timeout"], result["wait_sleep"]) == (True, 300, 1.0)
    failed, result = run_module(make_main(lambda m: {}, (WAIT_SPEC,)), {"name": "web", "wait_timeout": "soon"})
    assert failed
    assert "wait_timeout" in result["msg"]


def test_unknown_option_is_refused(run_module):
    failed, result = run_module(make_main(lambda m: {}), {"name": "web", "nmae": "x"})
    assert failed
    assert "nmae" in result["msg"]


def test_changed_result_derives_changed_and_diff_from_state(run_module):
    def action(module):
        return module.changed_result({"image": "1.0.1"}, {"image": "1.0.0"}, to_version="1.0.0")

    failed, result = run_module(make_main(action), {"name": "web"}, diff=True)
    assert result["changed"] is True
    assert result["diff"] == {"before": {"image": "1.0.1"}, "after": {"image": "1.0.0"}}
    failed, result = run_module(make_main(lambda m: m.changed_result({"a": 1}, {"a": 1})), {"name": "web"})
    assert result["changed"] is False
    assert "diff" not in result


def test_missing_library_names_the_pip_package(run_module):
    def main():
        module = RollbackModule(SPEC)
        module.require_library("kubernetes", "No module named 'kubernetes'")

    failed, result = run_module(main, {"name": "web"})
    assert failed
    assert "kubernetes" in result["msg"] and "pip install kubernetes" in result["msg"]
