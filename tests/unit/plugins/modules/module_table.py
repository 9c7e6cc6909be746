"""The modules whose argument specs and main() paths tests/unit/plugins/modules/ checks, and how to run each.

``args``: the smallest valid arguments. ``action``: what main() hands the module to, as ``attribute`` or
``attribute.attribute`` of the module file (patched by the tests). ``libraries``: ``(where, name, pip name)`` of
each import error main() checks (``where`` like ``action``), and the arguments that make it checked when not always.
An ``action`` path may go through a dict (``ACTIONS.take``: backup picks its action from one).
Where main() checks a library only on one platform, the row uses that platform and ``action`` is the platform's.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

# A file that exists: postgres_restore reads the data-loss window from the dump's modification time.
EXISTING_FILE = os.path.abspath(__file__)

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
    "env_file_restore": dict(args=dict(path="/srv/app/.env", backup="/srv/app/.env.backup-1"), action="restore",
                             libraries=[]),
    "rollback_lock": dict(args=dict(name="production", run_id="run-1"), action="lock.run",
                          libraries=[("ETCD_IMPORT_ERROR", "etcd3gw", dict(backend="etcd"))]),
    "swarm_service_rollback": dict(args=dict(name="web", previous=True), action="rollback",
                                   libraries=[("DOCKER_IMPORT_ERROR", "docker", {})]),
    "alb_traffic": dict(args=dict(state="drained", target_group="web-blue"), action="alb_traffic",
                        libraries=[("BOTO3_IMPORT_ERROR", "boto3", {})]),
    "frontend_restore": dict(args=dict(bucket="www", src="/srv/builds/1.0.0"), action="frontend_restore",
                             libraries=[("BOTO3_IMPORT_ERROR", "boto3", {})]),
    "postgres_restore": dict(args=dict(db="app", dump=EXISTING_FILE, emergency_backup_dir="/backups/emergency"),
                             action="restore", libraries=[("PSYCOPG2_IMPORT_ERROR", "psycopg2-binary", {})]),
    "rds_snapshot_restore": dict(args=dict(db_instance_identifier="app-db"), action="restore",
                                 libraries=[("BOTO3_IMPORT_ERROR", "boto3", {})]),
    "rollout_undo": dict(args=dict(platform="kubernetes", name="web"), action="kubernetes_undo.undo",
                         libraries=[("kubernetes.KUBERNETES_IMPORT_ERROR", "kubernetes", {}),
                                    ("compose.DOCKER_IMPORT_ERROR", "docker", dict(platform="compose"))]),
    "k8s_config_restore": dict(args=dict(backup="/backups/app-config.yaml"), action="restore",
                               libraries=[("KUBERNETES_IMPORT_ERROR", "kubernetes", {})]),
    "traffic": dict(args=dict(platform="kubernetes", state="stopped", name="web"),
                    action="traffic.kubernetes_traffic",
                    libraries=[("kubernetes.KUBERNETES_IMPORT_ERROR", "kubernetes", {}),
                               ("compose.DOCKER_IMPORT_ERROR", "docker", dict(platform="compose")),
                               ("compose.DOCKER_IMPORT_ERROR", "docker", dict(platform="swarm"))]),
    "incident_report": dict(args=dict(report={}, dest="/var/log/rollback"), action="incident_report.write",
                            libraries=[]),
    "backup": dict(args=dict(manifest_dir="/backups/manifests", owner="web", kind="marker"), action="ACTIONS.take",
                   libraries=[]),
    "auto_rollback": dict(args=dict(notification={}, environment="production", services=["web"],
                                    marker_dir="/var/lib/rollback/markers", state_dir="/var/lib/rollback/state"),
                          action="auto_rollback.run",
                          libraries=[("ETCD_IMPORT_ERROR", "etcd3gw", dict(lock=dict(backend="etcd")))]),
    "module_requirements": dict(args=dict(modules=["smoke_check"]), action="check", libraries=[]),
}

# A value of each type, for options a test must set to something.
SAMPLE = {"str": "x", "path": "/nonexistent/x", "int": 1, "float": 1.0, "bool": True, "list": ["x"], "dict": {},
          "raw": "x", "jsonarg": "{}"}


def resolve(module, dotted):
    """(object, attribute name) of ``module.<dotted>``."""
    owner = module
    *path, attribute = dotted.split(".")
    for part in path:
        owner = owner[part] if isinstance(owner, dict) else getattr(owner, part)
    return owner, attribute


def patch(monkeypatch, owner, attribute, value):
    """Replace ``owner.<attribute>`` (or ``owner[attribute]`` for a dict) for one test."""
    if isinstance(owner, dict):
        monkeypatch.setitem(owner, attribute, value)
    else:
        monkeypatch.setattr(owner, attribute, value)
