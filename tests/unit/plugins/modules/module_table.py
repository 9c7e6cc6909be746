"""The modules whose argument specs and main() paths tests/unit/plugins/modules/ checks, and how to run each.

``args``: the smallest valid arguments. ``action``: what main() hands the module to, as ``attribute`` or
``attribute.attribute`` of the module file (patched by the tests). ``libraries``: ``(where, name, pip name)`` of
each import error main() checks (``where`` like ``action``), and the arguments that make it checked when not always.
Modules being rewritten in other issues (postgres_restore, rds_snapshot_restore, rollout_undo, k8s_config_restore,
traffic, incident_report) join this table once they land.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

MODULES = {
    "smoke_check": dict(args={}, action="verify", libraries=[]),
    "rollback_decision": dict(args={}, action="decide_from_params", libraries=[]),
    "cache_invalidate": dict(args={}, action="invalidate", libraries=[("REDIS_IMPORT_ERROR", "redis", {})]),
    "nginx_traffic": dict(args=dict(conf_file="/etc/nginx/conf.d/app.conf", state="maintenance"),
                          action="nginx.switch", libraries=[]),
    "migration_status": dict(args=dict(db="app", script_location="/srv/app/migrations"),
                             action="migrations.migration_status",
                             libraries=[("PSYCOPG2_IMPORT_ERROR", "psycopg2-binary", {}),
                                        ("migrations.ALEMBIC_IMPORT_ERROR", "alembic", {})]),
    "etcd_config_restore": dict(args=dict(prefix="/app/", backup="/backups/app.json"), action="restore",
                                libraries=[("ETCD_IMPORT_ERROR", "etcd3gw", {})]),
    "env_file_restore": dict(args=dict(path="/srv/app/.env"), action="restore", libraries=[]),
    "rollback_lock": dict(args=dict(name="production", run_id="run-1"), action="lock.run",
                          libraries=[("ETCD_IMPORT_ERROR", "etcd3gw", dict(backend="etcd"))]),
    "swarm_service_rollback": dict(args=dict(name="web", previous=True), action="rollback",
                                   libraries=[("DOCKER_IMPORT_ERROR", "docker", {})]),
    "alb_traffic": dict(args=dict(state="drained", target_group="web-blue"), action="alb_traffic",
                        libraries=[("BOTO3_IMPORT_ERROR", "boto3", {})]),
    "frontend_restore": dict(args=dict(bucket="www", src="/srv/builds/1.0.0"), action="frontend_restore",
                             libraries=[("BOTO3_IMPORT_ERROR", "boto3", {})]),
}

# A value of each type, for options a test must set to something.
SAMPLE = {"str": "x", "path": "/nonexistent/x", "int": 1, "float": 1.0, "bool": True, "list": ["x"], "dict": {},
          "raw": "x", "jsonarg": "{}"}


def resolve(module, dotted):
    """(object, attribute name) of ``module.<dotted>``."""
    owner = module
    *path, attribute = dotted.split(".")
    for part in path:
        owner = getattr(owner, part)
    return owner, attribute
