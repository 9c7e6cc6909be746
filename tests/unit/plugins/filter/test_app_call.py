"""rollback.core.app_call: the one task of the app phase runs, per host, the module its target needs, with the
keys of the inventory's dicts that module takes and the keys the role sets itself."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.rollback.core.plugins.action.target_module import MODULES
from ansible_collections.rollback.core.plugins.filter import options
from ansible_collections.rollback.core.plugins.filter.options import app_call, database_call, host_modules

RUN = {"phases": [{"name": "app"}], "services": ["svc"], "databases": [], "traffic": []}
APPS = {
    "kubernetes": dict(namespace="shop", kubeconfig="/k"),
    "compose": dict(project_src="/srv/app", services=["web"]),
    "server": dict(releases_dir="/opt/releases", units=["demo.service"], to_version="1.0.0"),
    "swarm": dict(docker_host="unix:///d.sock"),
    "bluegreen": dict(conf_file="/etc/nginx/live.conf", to_color="blue", to_version="1.0.0"),
    "frontend": dict(bucket="www", source_bucket="builds", source_prefix="1.0.0/"),
}


@pytest.mark.parametrize("target", sorted(APPS))
def test_the_module_is_the_one_preflight_checked_the_libraries_of(target):
    call = app_call(APPS[target], target, "svc", 300)
    checked = host_modules({"inventory_hostname": "svc", "rollback_service_target": target,
                            "rollback_service_app": APPS[target]}, RUN)
    assert {name.split(":")[0] for name in checked} == {call["module"].split(".")[-1]}
    assert call["module"] in MODULES


@pytest.mark.parametrize("target", sorted(APPS))
def test_only_keys_the_module_takes_and_the_roles_own_keys_win(target):
    call = app_call(dict(APPS[target], wait_timeout=5), target, "svc", 300)
    module = call["module"].split(".")[-1]
    assert set(call["args"]) <= set(options.module_options(module))
    if "wait_timeout" in options.module_options(module):
        assert call["args"]["wait_timeout"] == 300
    # What the role sets is reserved (refused in the inventory's dict by preflight) or the object's identity.
    own = set(call["args"]) - set(options.module_args(APPS[target], module))
    assert own <= set(options.RESERVED[module]) | {"name", "bucket", "forward_to", "active_color", "expected_version"}


def test_each_target_gets_what_it_did_as_its_own_task():
    assert app_call(APPS["kubernetes"], "kubernetes", "api", 60) == {"module": "rollback.core.rollout_undo", "args": {
        "namespace": "shop", "kubeconfig": "/k", "platform": "kubernetes", "name": "api", "wait_timeout": 60}}
    assert app_call(dict(name="web-svc"), "swarm", "api", 60)["args"] == dict(name="web-svc", previous=True,
                                                                              wait_timeout=60)
    assert app_call(dict(image="web:1.0.0"), "swarm", "api", 60)["args"]["previous"] is False
    nginx = app_call(APPS["bluegreen"], "bluegreen", "front", 60)
    assert nginx["module"] == "rollback.core.nginx_traffic"
    assert nginx["args"]["active_color"] == "blue" and nginx["args"]["expected_version"] == "1.0.0"
    assert "expected_version" not in app_call(dict(to_color="blue"), "bluegreen", "front", 60)["args"]
    alb = app_call(dict(listener_arn="arn:l", to_target_group="arn:tg-blue"), "bluegreen", "front", 60)
    assert alb == {"module": "rollback.core.alb_traffic",
                   "args": {"listener_arn": "arn:l", "forward_to": "arn:tg-blue"}}
    assert app_call(APPS["frontend"], "frontend", "www", 60)["args"]["bucket"] == "www"


def test_the_run_id_goes_into_rollout_undos_undo_record_only():
    assert app_call(APPS["server"], "server", "api", 60, "run-9")["args"]["run_id"] == "run-9"
    assert "run_id" not in app_call(APPS["server"], "server", "api", 60, "")["args"]
    assert "run_id" not in app_call(APPS["swarm"], "swarm", "api", 60, "run-9")["args"]


def test_a_missing_key_or_target_is_one_line_naming_the_host():
    with pytest.raises(AnsibleFilterError, match="^front: a bluegreen service needs to_color in rollback_service_"):
        app_call({}, "bluegreen", "front", 60)
    with pytest.raises(AnsibleFilterError, match="^unknown target 'lambda'"):
        app_call({}, "lambda", "fn", 60)


def test_the_action_runs_exactly_the_modules_its_documentation_lists():
    doc = options._docs_options("target_module")
    assert tuple(doc["module"]["choices"]) == MODULES


def test_a_postgres_restore_takes_its_dict_and_db():
    call = database_call(dict(db="app", dump_dir="/backups", jobs=4, stamp_after_restore=True), "postgres",
                         "2026-12-03T10:00:00+00:00", 900)
    assert call == {"module": "rollback.core.postgres_restore",
                    "args": {"db": "app", "dump_dir": "/backups", "jobs": 4}}


def test_rds_latest_takes_only_a_snapshot_from_before_the_deploy():
    deployed = "2026-12-03T10:00:00+00:00"
    latest = database_call(dict(db_instance_identifier="demo-db"), "rds", deployed, 900)
    assert latest == {"module": "rollback.core.rds_snapshot_restore", "args": {
        "db_instance_identifier": "demo-db", "latest": True, "created_before": deployed, "wait_timeout": 900}}
    own = database_call(dict(db_instance_identifier="demo-db", created_before="2026-12-01T00:00:00Z",
                             wait_timeout=3600), "rds", deployed, 900)["args"]
    assert own["created_before"] == "2026-12-01T00:00:00Z" and own["wait_timeout"] == 3600
    for named in (dict(db_snapshot_identifier="snap-1"), dict(restore_time="2026-12-03T09:59:00Z"),
                  dict(use_latest_restorable_time=True)):
        args = database_call(dict(named, db_instance_identifier="demo-db"), "rds", deployed, 900)["args"]
        assert args["latest"] is False and "created_before" not in args
    assert database_call(dict(latest="yes", db_snapshot_identifier="s"), "rds", deployed, 9)["args"]["latest"] is True
    with pytest.raises(AnsibleFilterError, match="^unknown database type 'mysql'"):
        database_call({}, "mysql", deployed, 900)


def test_a_pitr_restore_gets_the_deploy_time_and_markers_it_does_not_set():
    defaults = dict(target_time="2026-12-03T10:00:00Z", marker_dir="/markers", services=["api"])
    call = database_call(dict(db="app", pitr=dict(stanza="main")), "postgres", "x", 900, defaults)
    assert call["args"] == {"db": "app", "pitr": dict(defaults, stanza="main")}
    own = database_call(dict(db="app", pitr=dict(stanza="main", target_time="2026-12-03T09:00:00Z")), "postgres",
                        "x", 900, dict(defaults, marker_dir="", services=[]))
    assert own["args"]["pitr"] == dict(stanza="main", target_time="2026-12-03T09:00:00Z")
    assert "pitr" not in database_call(dict(db="app", dump="/d"), "postgres", "x", 900, defaults)["args"]
