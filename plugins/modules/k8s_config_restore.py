#!/usr/bin/python
# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: k8s_config_restore
short_description: Restore Kubernetes ConfigMaps and Secrets from a backup manifest, then restart Deployments
description:
  - Level 2 of a rollback on Kubernetes (runbook 001 level 2 - restore ConfigMaps, restore Secrets, restart pods).
  - Reads the ConfigMaps and Secrets of O(backup) (multi-document YAML or JSON, C(kind=List) allowed), compares
    each with the cluster's by its data, and creates or replaces only those that differ. Objects not in the
    backup are never touched.
  - The current versions of the objects about to change are saved to O(save_current_to) first.
  - Then each Deployment of O(restart) gets a rollout restart (a new C(kubectl.kubernetes.io/restartedAt)
    template annotation, as C(kubectl rollout restart) does) and is waited for, so the pods read the
    restored configuration.
  - Secret values never appear in the diff or the result.
version_added: 0.1.0
author:
  - rollback.core maintainers (@rollback-core)
extends_documentation_fragment:
  - rollback.core.backup_selection
  - rollback.core.kube_auth
  - rollback.core.wait
options:
  backup:
    description:
      - Manifest of the ConfigMaps and Secrets to restore. Anything else in it fails the task before any change.
      - Required unless O(backup_dir) is given.
    type: path
  namespace:
    description:
      - Namespace of objects whose manifest has none, and of the O(restart) Deployments.
    type: str
    default: default
  save_current_to:
    description:
      - Write the current versions of the objects about to change here (a C(List) manifest, mode 0600) first.
    type: path
  restart:
    description:
      - Deployments to restart after a change, and wait for.
    type: list
    elements: str
    default: []
  mask:
    description:
      - fnmatch patterns of ConfigMap keys whose values never appear in the diff (Secret values never do).
    type: list
    elements: str
    default: []
attributes:
  check_mode:
    description: Reads the backup and the cluster and reports what would be created or replaced.
    support: full
  diff_mode:
    description: Shows the data of changed objects before and after, Secret values masked.
    support: full
"""

EXAMPLES = r"""
- name: Restore the API's configuration and restart it (runbook 001 level 2)
  rollback.core.k8s_config_restore:
    namespace: catalytic-saas
    backup: /var/backups/k8s/config-20251112.yaml
    save_current_to: /var/backups/k8s/config-pre-rollback.yaml
    restart: [catalytic-saas-api]
  diff: true
"""

RETURN = r"""
backup_used:
  description: The manifest restored (O(backup), or the newest in O(backup_dir)).
  returned: always
  type: str
created:
  description: Objects created (C(Kind namespace/name)).
  returned: always
  type: list
  elements: str
updated:
  description: Objects replaced.
  returned: always
  type: list
  elements: str
unchanged:
  description: Number of backup objects already equal in the cluster.
  returned: always
  type: int
saved_to:
  description: Where the current versions were saved, or null.
  returned: always
  type: str
restarted:
  description: Deployments restarted.
  returned: always
  type: list
  elements: str
duration:
  description: Seconds the module took.
  returned: always
  type: float
"""

from ansible_collections.rollback.core.plugins.module_utils.backups import SELECTION_SPEC, restore_newest
from ansible_collections.rollback.core.plugins.module_utils.base import RollbackModule
from ansible_collections.rollback.core.plugins.module_utils.kubernetes import KUBE_AUTH_SPEC, KUBERNETES_IMPORT_ERROR
from ansible_collections.rollback.core.plugins.module_utils.kubernetes_config import restore
from ansible_collections.rollback.core.plugins.module_utils.wait import WAIT_SPEC, Waiter


def main():
    module = RollbackModule(
        dict(
            backup=dict(type="path"),
            namespace=dict(type="str", default="default"),
            save_current_to=dict(type="path"),
            restart=dict(type="list", elements="str", default=[]),
            mask=dict(type="list", elements="str", default=[], no_log=False),
        ),
        shared_specs=(KUBE_AUTH_SPEC, WAIT_SPEC, SELECTION_SPEC),
        required_one_of=[("backup", "backup_dir")],
        mutually_exclusive=[("backup", "backup_dir")],
        supports_check_mode=True,
    )
    module.require_library("kubernetes", KUBERNETES_IMPORT_ERROR)
    module.run(lambda m: restore_newest(m, lambda m: restore(m, Waiter(m)), "backup", "backup_dir", "backup_pattern",
                                        "ConfigMap/Secret backup"))


if __name__ == "__main__":
    main()
