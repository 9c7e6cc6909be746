# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Python libraries each module needs on the host that runs it, and which of them a Python lacks.

Keys are module names, or ``module:platform`` where the platform decides (rollout_undo, traffic). Values are
``(import name, pip package)``. A unit test checks this table against each module's ``require_library`` calls.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import importlib.util
import platform
import sys

BOTO3 = ("boto3", "boto3")
DOCKER = ("docker", "docker")
KUBERNETES = ("kubernetes", "kubernetes")
PSYCOPG2 = ("psycopg2", "psycopg2-binary")

LIBRARIES = {
    "alb_traffic": [BOTO3],
    "backup": [],
    "backup:etcd": [("etcd3gw", "etcd3gw")],
    "backup:kubernetes": [KUBERNETES],
    "backup:rds": [BOTO3],
    "cache_invalidate": [("redis", "redis")],
    "auto_rollback": [],
    "auto_rollback:etcd": [("etcd3gw", "etcd3gw")],
    "env_file_restore": [],
    "etcd_config_restore": [("etcd3gw", "etcd3gw")],
    "frontend_restore": [BOTO3],
    "incident_report": [],
    "k8s_config_restore": [KUBERNETES],
    "migration_status": [PSYCOPG2, ("alembic", "alembic"), ("sqlalchemy", "SQLAlchemy")],
    "module_requirements": [],
    "nginx_traffic": [],
    "postgres_restore": [PSYCOPG2],
    "rds_snapshot_restore": [BOTO3],
    "rollback_decision": [],
    "rollback_lock": [],
    "rollback_lock:etcd": [("etcd3gw", "etcd3gw")],
    "rollout_undo:kubernetes": [KUBERNETES],
    "rollout_undo:compose": [DOCKER],
    "rollout_undo:server": [],
    "smoke_check": [],
    "swarm_service_rollback": [DOCKER],
    "target_module": [],  # an action plugin: the module it runs is checked under its own name
    "traffic:kubernetes": [KUBERNETES],
    "traffic:compose": [DOCKER],
    "traffic:server": [],
    "traffic:swarm": [DOCKER],
}


def missing(modules, find_spec=importlib.util.find_spec):
    """``[{module, library, pip}]`` of the libraries of ``modules`` this Python cannot import; unknown names raise."""
    unknown = sorted(name for name in modules if name not in LIBRARIES)
    if unknown:
        raise ValueError("unknown module(s) %s; known: %s" % (", ".join(unknown), ", ".join(sorted(LIBRARIES))))
    absent = []
    for name in modules:
        for library, pip in LIBRARIES[name]:
            if find_spec(library) is None:
                absent.append(dict(module=name, library=library, pip=pip))
    return absent


def python():
    return dict(executable=sys.executable, version=platform.python_version())
