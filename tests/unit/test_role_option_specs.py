"""Typed options: the roles' option dicts refuse keys their modules do not take, and cannot drift from them.

Each rollback.core.* task in roles/ passes only keys its module accepts (explicit arguments, and the
module_defaults dict through rollback.core.module_args for that same module); the nested options of the roles'
argument specs are what scripts/role_option_specs.py generates from the modules' own documentation.
"""

import glob
import os
import re
import subprocess
import sys

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.rollback.core.plugins.filter import options

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

PREFIX = "rollback.core."


def module_tasks():
    """(file, task) for every task in roles/ that calls a rollback.core module, blocks included."""
    found = []

    def walk(path, tasks):
        for task in tasks or []:
            for key in ("block", "rescue", "always"):
                walk(path, task.get(key))
            if any(k.startswith(PREFIX) for k in task):
                found.append((os.path.relpath(path, REPO), task))

    for path in sorted(glob.glob(os.path.join(REPO, "roles", "*", "tasks", "*.yml"))):
        with open(path) as handle:
            walk(path, yaml.safe_load(handle))
    return found


TASKS = module_tasks()


def test_the_roles_call_modules():
    assert len(TASKS) >= 20


@pytest.mark.parametrize("path,task", TASKS, ids=["%s: %s" % (p, t.get("name")) for p, t in TASKS])
def test_each_task_passes_only_keys_its_module_accepts(path, task):
    module = next(k for k in task if k.startswith(PREFIX))
    name = module[len(PREFIX):]
    accepted = set(options.module_options(name))
    explicit = set(task[module] or {})
    assert explicit <= accepted, "%s passes %s, not options of %s" % (path, sorted(explicit - accepted), module)
    for default_module, value in (task.get("module_defaults") or {}).items():
        assert default_module == module, "%s: module_defaults for %s on a %s task" % (path, default_module, module)
        filters = re.findall(r"rollback\.core\.module_args\('([a-z0-9_]+)'", value)
        assert filters and set(filters) == {name}, "%s: the defaults must be module_args('%s')" % (path, name)


def test_reserved_keys_are_the_ones_the_roles_set_explicitly():
    identity = {"name", "db", "prefix", "path", "bucket", "host", "mode", "latest", "db_instance_identifier",
                "forward_to", "active_color", "expected_version"}
    for path, task in TASKS:
        module = next(k for k in task if k.startswith(PREFIX))[len(PREFIX):]
        if not task.get("module_defaults"):
            continue
        for key, value in (task[PREFIX + module] or {}).items():
            if key in options.RESERVED.get(module, ()) or key in identity:
                continue
            # A key a role sets explicitly would silently override the same key in the inventory's dict: it must be
            # refused there (reserved), unless the role takes it from that very dict (`<dict>.<key> | default(...)`).
            assert re.search(r"\.%s\s*\|\s*default\(" % re.escape(key), str(value)), (path, module, key)


def test_nested_options_match_the_generated_ones():
    completed = subprocess.run([sys.executable, os.path.join(REPO, "scripts", "role_option_specs.py")],
                               capture_output=True, text=True, check=False)
    assert completed.returncode == 0, completed.stdout + completed.stderr


def test_a_typo_is_refused_by_the_role_spec_and_by_preflight():
    with open(os.path.join(REPO, "roles", "app", "meta", "argument_specs.yml")) as handle:
        spec = yaml.safe_load(handle)["argument_specs"]["main"]["options"]
    assert "to_version" in spec["app_options"]["options"] and "swapp" not in spec["app_options"]["options"]
    errors = options.host_option_errors("demo-server", dict(
        rollback_service_target="server", rollback_service_app=dict(releases_dir="/srv", to_verison="1.0.0"),
        rollback_service_traffic=dict(swapp=False, nginx=dict(conf_file="/x", colour="blue"))), "service")
    assert errors[0].startswith("demo-server: rollback_service_app: unknown key to_verison (rollout_undo takes ")
    assert errors[1].startswith("demo-server: rollback_service_traffic: unknown key swapp (traffic ")
    assert errors[2].startswith("demo-server: rollback_service_traffic.nginx: unknown key colour (")
    assert len(errors) == 3


def test_an_unknown_database_type_is_refused_by_the_role_spec_and_by_preflight():
    """The database role has no task of its own for it: its spec's choices, preflight and database_call refuse it."""
    with open(os.path.join(REPO, "roles", "database", "meta", "argument_specs.yml")) as handle:
        spec = yaml.safe_load(handle)["argument_specs"]["main"]["options"]
    assert spec["database_type"]["choices"] == ["postgres", "rds"]
    assert options.host_option_errors("db", dict(rollback_database_type="mysql"), "database") == [
        "db: rollback_database_type must be postgres or rds, got mysql"]
    assert options.host_option_errors("db", {}, "database") == [
        "db: rollback_database_type must be postgres or rds, got nothing"]
    with pytest.raises(AnsibleFilterError, match="^unknown database type 'mysql': one of postgres, rds$"):
        options.database_call({}, "mysql", None, 60)


def test_wrong_types_are_named_without_their_values():
    errors = options.host_option_errors("db", dict(
        rollback_database_type="postgres",
        rollback_database_restore=dict(db="app", jobs="many", login_password="s3cret", verify=[dict(sql=1, nope=2)]),
        rollback_database_caches=[dict(host="r", port="x")]), "database")
    assert errors == [
        "db: rollback_database_caches[0].port: expected int",
        "db: rollback_database_restore.jobs: expected int",
        "db: rollback_database_restore.verify[0]: unknown key nope (postgres_restore verify takes as_role, expect, "
        "min_rows, name, sql)" if "as_role" in options.module_options("postgres_restore")["verify"]["options"] else
        "db: rollback_database_restore.verify[0]: unknown key nope (postgres_restore verify takes expect, min_rows, "
        "name, sql)",
    ]
    assert all("s3cret" not in e and "many" not in e for e in errors)


def test_a_key_for_another_target_is_refused():
    errors = options.host_option_errors("k", dict(rollback_service_target="kubernetes",
                                                  rollback_service_connection=dict(namespace="n", project_src="/p")),
                                        "service")
    assert errors[0].startswith("k: rollback_service_connection: unknown key project_src (rollout_undo / traffic ")
    swarm = options.host_option_errors("s", dict(rollback_service_target="swarm",
                                                 rollback_service_connection=dict(name="s", units=["u"])), "service")
    assert swarm[0].startswith("s: rollback_service_connection: unknown key units (swarm_service_rollback / traffic")


def test_config_sources_by_type_and_unknown_types():
    errors = options.host_option_errors("srv", dict(rollback_service_target="server", rollback_service_config=[
        dict(type="etcd", prefix="/a/", backup_dir="/b", prun=True),
        dict(type="env_file", path="/e", backup_dir="/b"),
        dict(type="vault", path="x")]), "service")
    assert errors[0].startswith("srv: rollback_service_config[0]: unknown key prun (etcd_config_restore takes ")
    assert errors[1] == "srv: rollback_service_config[2]: type must be etcd, kubernetes or env_file, got vault"
    assert len(errors) == 2


def test_module_args_keeps_what_the_module_takes():
    shared = dict(name="demo", namespace="default", kubeconfig="/k", project_src="/p", maintenance_file="/m")
    assert options.module_args(shared, "k8s_config_restore") == dict(namespace="default", kubeconfig="/k")
    assert options.module_args(dict(state="stopped", replicas=2), "traffic") == dict(replicas=2), "reserved dropped"
    assert options.module_args(None, "traffic") == {}


def _phase_role_variables():
    """``{(role, host variable): role option type}`` of the planned phase roles' defaults that read one host
    variable which is not an option dict (those are checked against the modules' specs above)."""
    dicts = set(options.service_specs("kubernetes")) | set(options.database_specs("postgres")) | {
        "rollback_service_target", "rollback_database_type", "rollback_maintenance_endpoint"}
    found = {}
    for role in ("app", "config", "database", "traffic", "verify"):
        with open(os.path.join(REPO, "roles", role, "defaults", "main.yml")) as handle:
            defaults = yaml.safe_load(handle)
        with open(os.path.join(REPO, "roles", role, "meta", "argument_specs.yml")) as handle:
            specs = yaml.safe_load(handle)["argument_specs"]
        for option, value in defaults.items():
            read = set(re.findall(r"\b(rollback_[a-z_]+)", str(value))) - dicts - {"rollback_run", "rollback_auto"}
            for variable in read:
                for entry in specs.values():
                    spec = entry.get("options", {}).get(option)
                    if spec and not isinstance(value, dict):
                        found[(role, variable)] = spec.get("type", "str")
    return found


def test_preflight_checks_the_type_of_every_host_variable_the_phase_roles_take():
    # The planning play runs the phase roles without their argument validation (rolespec_validate: false; issue
    # 22): preflight's option_errors must check every host variable those options come from, with the same type.
    found = _phase_role_variables()
    assert ("app", "rollback_wait_timeout") in found and ("verify", "rollback_verify_rounds") in found
    checked = dict(options.HOST_VARIABLES["service"], **options.HOST_VARIABLES["database"])
    for (role, variable), kind in sorted(found.items()):
        assert checked.get(variable) == kind, "%s reads %s as %s; preflight checks %s" % (
            role, variable, kind, checked.get(variable))


def test_a_host_variable_of_the_wrong_type_is_refused_by_preflight():
    errors = options.host_option_errors("api", dict(
        rollback_service_target="kubernetes", rollback_wait_timeout="soon", rollback_service_environment=["A=1"],
        rollback_verify_rounds="3"), "service")
    assert errors == ["api: rollback_service_environment: expected dict", "api: rollback_wait_timeout: expected int"]
    assert options.host_option_errors("db", dict(rollback_database_type="rds", rollback_wait_timeout=[1]),
                                      "database") == ["db: rollback_wait_timeout: expected int"]


def test_only_the_hosts_run_in_the_controller_python_share_its_library_check():
    python = sys.executable
    hostvars = {
        "k8s": dict(ansible_connection="local", ansible_python_interpreter=python),
        "server": dict(ansible_connection="ssh", ansible_python_interpreter="/usr/bin/python3"),
        "bare": dict(ansible_connection="local", ansible_python_interpreter="/usr/bin/python3.9"),
        "root": dict(ansible_connection="local", ansible_python_interpreter=python, ansible_become=True),
        "discovered": dict(ansible_connection="local"),
    }
    assert options.controller_hosts(hostvars, sorted(hostvars)) == ["k8s"]
    assert options.controller_hosts(hostvars, []) == []
