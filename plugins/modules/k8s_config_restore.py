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
    each with the cluster's by its contents (C(data) and C(binaryData); for Secrets C(data) with C(stringData)
    folded in; base64 compared as bytes), and creates the missing ones and changes only those that differ. Objects
    not in the backup are never touched.
  - An existing object is changed by a merge patch of its contents only, carrying the resourceVersion read (a
    concurrent change fails the task instead of being overwritten). Its labels, annotations (Helm's among them),
    ownerReferences and finalizers are kept; keys absent from the backup are removed.
  - 'An immutable object (C(immutable: true), or a Secret whose C(type) differs from the backup''s) cannot be changed
    (the API server answers 422): the task fails before any change, naming them, unless O(replace_immutable).'
  - The current versions of the objects about to change are saved to O(save_current_to) first.
  - Then each Deployment of O(restart) gets a rollout restart (a new C(kubectl.kubernetes.io/restartedAt)
    template annotation, as C(kubectl rollout restart) does) and is waited for as C(kubectl rollout status) does,
    so the pods read the restored configuration.
  - An object managed by Argo CD or Flux that would revert the restore is refused unless O(force).
  - Secret values never appear in the diff or the result.
version_added: 0.1.0
author:
  - rollback.core maintainers (@rollback-core)
extends_documentation_fragment:
  - rollback.core.backup_selection
  - rollback.core.decrypt
  - rollback.core.kube_auth
  - rollback.core.kube_gitops
  - rollback.core.wait
options:
  backup:
    description:
      - Manifest of the ConfigMaps and Secrets to restore. Anything else in it fails the task before any change.
      - Required unless O(backup_dir) is given.
      - An C(s3://bucket/key) URL is fetched first (boto3's own credentials and C(AWS_ENDPOINT_URL_S3)) to a 0600
        temporary file, checked against the sha256 M(rollback.core.backup) stored with it, and removed at the end.
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
  replace_immutable:
    description:
      - Delete an immutable ConfigMap or Secret whose contents differ (only the version read, by uid and
        resourceVersion preconditions) and create it again with the backup's contents and its own metadata
        (labels, annotations, ownerReferences, finalizers, C(immutable)). Pods that mount it keep the old contents
        until restarted (O(restart)).
    type: bool
    default: false
  mask:
    description:
      - fnmatch patterns of ConfigMap keys whose values never appear in the diff (Secret values never do).
    type: list
    elements: str
    default: []
attributes:
  check_mode:
    description: Reads the backup and the cluster and reports what would be created, patched or replaced; each write
      (and each restart) is sent as a server-side dry run, so RBAC, validation and admission are tried.
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
  description: Objects whose contents were patched.
  returned: always
  type: list
  elements: str
replaced:
  description: Immutable objects deleted and created again (O(replace_immutable)).
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
  description: Deployments restarted (in check mode, that would be).
  returned: always
  type: list
  elements: str
api_server:
  description: The Kubernetes API server used and where its configuration came from.
  returned: always
  type: str
duration:
  description: Seconds the module took.
  returned: always
  type: float
"""

from ansible_collections.rollback.core.plugins.module_utils.backup_crypt import DECRYPT_SPEC
from ansible_collections.rollback.core.plugins.module_utils.backups import SELECTION_SPEC, restore_newest
from ansible_collections.rollback.core.plugins.module_utils.base import RollbackModule
from ansible_collections.rollback.core.plugins.module_utils.kubernetes import KUBE_AUTH_SPEC, KUBERNETES_IMPORT_ERROR
from ansible_collections.rollback.core.plugins.module_utils.kubernetes_config import restore
from ansible_collections.rollback.core.plugins.module_utils.kubernetes_gitops import GITOPS_SPEC
from ansible_collections.rollback.core.plugins.module_utils.wait import WAIT_SPEC, Waiter


def main():
    module = RollbackModule(
        dict(
            backup=dict(type="path"),
            namespace=dict(type="str", default="default"),
            save_current_to=dict(type="path"),
            restart=dict(type="list", elements="str", default=[]),
            replace_immutable=dict(type="bool", default=False),
            mask=dict(type="list", elements="str", default=[], no_log=False),
        ),
        shared_specs=(KUBE_AUTH_SPEC, GITOPS_SPEC, WAIT_SPEC, SELECTION_SPEC, DECRYPT_SPEC),
        required_one_of=[("backup", "backup_dir")],
        mutually_exclusive=[("backup", "backup_dir")],
        supports_check_mode=True,
    )
    module.require_library("kubernetes", KUBERNETES_IMPORT_ERROR)
    module.run(lambda m: restore_newest(m, lambda m: restore(m, Waiter(m)), "backup", "backup_dir", "backup_pattern",
                                        "ConfigMap/Secret backup"))


if __name__ == "__main__":
    main()
