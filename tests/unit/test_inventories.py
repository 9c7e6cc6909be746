"""The shipped inventories pass what preflight checks: typed option dicts, declared databases, level 3's blast radius.

The variables are read as written: a template stands as the string "templated" (not rendered here).
"""

import functools
import os

import pytest
from ansible.inventory.manager import InventoryManager
from ansible.parsing.dataloader import DataLoader
from ansible.vars.manager import VariableManager

from ansible_collections.rollback.core.plugins.filter import options, run

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def untemplated(value):
    if isinstance(value, str) and "{{" in value:
        return "templated"
    if isinstance(value, dict):
        return dict((str(k), untemplated(v)) for k, v in value.items())
    if isinstance(value, list):
        return [untemplated(v) for v in value]
    return value


@functools.cache
def inventory(name):
    loader = DataLoader()
    manager = InventoryManager(loader=loader, sources=[os.path.join(REPO, "inventories", name)])
    variables = VariableManager(loader=loader, inventory=manager)
    hostvars = dict((h.name, untemplated(dict(variables.get_vars(host=h, include_hostvars=False))))
                    for h in manager.get_hosts())
    for name_, values in hostvars.items():
        values["inventory_hostname"] = name_
    groups = manager.get_groups_dict()
    return hostvars, groups


@pytest.mark.parametrize("name", ["lab", "staging", "production"])
def test_level3_of_every_service_is_accepted(name):
    hostvars, groups = inventory(name)
    services = dict((s, hostvars[s]) for s in groups["rollback_services"])
    request = dict(id="r", level=3, environment=name, operator="t", reason="r", started="s", check_mode=False,
                   canary=0, services=[], databases=[])
    context = run.run_context(request, services, groups["rollback_databases"])
    assert context["errors"] == [] and context["warnings"] == []
    assert context["run"]["databases"], "level 3 restores something"
    assert options.option_errors(hostvars, context["run"]) == []


@pytest.mark.parametrize("name", ["lab", "staging", "production"])
@pytest.mark.parametrize("level", [1, 2])
def test_every_service_alone_at_levels_1_and_2(name, level):
    hostvars, groups = inventory(name)
    services = dict((s, hostvars[s]) for s in groups["rollback_services"])
    for service in services:
        request = dict(id="r", level=level, environment=name, operator="t", reason="r", started="s",
                       check_mode=False, canary=1, services=[service], databases=[])
        context = run.run_context(request, services, groups["rollback_databases"])
        assert context["errors"] == []
        assert options.option_errors(hostvars, context["run"]) == []
        assert context["run"]["hosts"] == [service]
