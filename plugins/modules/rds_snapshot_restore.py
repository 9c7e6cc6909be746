#!/usr/bin/python
# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: rds_snapshot_restore
short_description: Restore an RDS instance from a snapshot beside the live one, and optionally swap names
description:
  - Level 3 of a rollback on Amazon RDS (runbooks 000 step 3.1, 001 step 3).
  - Restores O(db_snapshot_identifier), or the newest available snapshot of O(db_instance_identifier) with
    O(latest=true), to a new instance, waits for it, and with O(swap=true) renames the source to
    C(<source>-pre-rollback-<UTC timestamp>) and the restored instance to the source's name, so the
    application's endpoint name stays the same.
  - Never deletes an instance. The old one keeps running under its new name until someone removes it.
  - 'Before any change: the source exists, the snapshot exists and is available, the target and the
    pre-rollback names are free, and O(restore_options) are all accepted by the restore API.'
  - Instance class, subnet group, security groups, parameter group and Multi-AZ are copied from the source
    unless given. Source settings the restore API cannot take (backup retention and window, maintenance
    window, monitoring, Performance Insights) are named in a warning to re-apply.
  - The restored instance is tagged C(rollback.core/restored-from-snapshot=<snapshot>); a re-run that finds
    the instance already restored from the same snapshot reports C(changed=false).
version_added: 0.1.0
author:
  - rollback.core maintainers (@rollback-core)
extends_documentation_fragment:
  - rollback.core.aws
  - rollback.core.wait
options:
  db_instance_identifier:
    description:
      - The source (live) instance.
    type: str
    required: true
  db_snapshot_identifier:
    description:
      - The snapshot to restore. Mutually exclusive with O(latest).
    type: str
  latest:
    description:
      - Restore the newest available snapshot of the source of type O(snapshot_type).
    type: bool
    default: false
  snapshot_type:
    description:
      - Which snapshots O(latest) chooses from.
    type: str
    choices: [manual, automated]
    default: manual
  target_db_instance_identifier:
    description:
      - Identifier of the restored instance. Default C(<source>-rb-<UTC timestamp>).
    type: str
  swap:
    description:
      - Rename the source to C(<source>-pre-rollback-<UTC timestamp>) and the restored instance to the source's name.
    type: bool
    default: false
  db_instance_class:
    description: Instance class of the restored instance. Default, the source's.
    type: str
  db_subnet_group_name:
    description: Subnet group of the restored instance. Default, the source's.
    type: str
  vpc_security_group_ids:
    description: Security groups of the restored instance. Default, the source's.
    type: list
    elements: str
  db_parameter_group_name:
    description: Parameter group of the restored instance. Default, the source's.
    type: str
  multi_az:
    description: Multi-AZ for the restored instance. Default, the source's.
    type: bool
  restore_options:
    description:
      - Further parameters of RestoreDBInstanceFromDBSnapshot, by their API names (for example C(StorageType)).
        A name the API does not accept fails the task before any change.
    type: dict
attributes:
  check_mode:
    description: Describes the source and the snapshot and returns the plan (RV(restore_arguments)).
    support: full
  diff_mode:
    description: Instances are not diffed; the result names the instances involved.
    support: none
"""

EXAMPLES = r"""
- name: Restore the newest manual snapshot and take over the endpoint name
  rollback.core.rds_snapshot_restore:
    region: eu-west-1
    db_instance_identifier: app-prod
    latest: true
    swap: true
    wait_timeout: 1800
  register: rds_restore

- name: Restore a named snapshot beside production, for inspection
  rollback.core.rds_snapshot_restore:
    db_instance_identifier: app-prod
    db_snapshot_identifier: app-prod-before-release-42
    target_db_instance_identifier: app-prod-inspect
"""

RETURN = r"""
snapshot:
  description: The snapshot restored (id, create_time, type).
  returned: always
  type: dict
db_instance:
  description: The instance now holding the restored data (id, address, port, status, instance_class).
  returned: always
  type: dict
previous_db_instance_identifier:
  description: The new name of the old source instance with O(swap=true); null otherwise.
  returned: always
  type: str
data_loss_window:
  description: From the snapshot's creation to now (start, end, seconds); writes in it are not in the restore.
  returned: always
  type: dict
restore_arguments:
  description: The arguments sent to (or, in check mode, planned for) RestoreDBInstanceFromDBSnapshot.
  returned: when changed
  type: dict
duration:
  description: Seconds the module took.
  returned: always
  type: float
"""

from ansible_collections.rollback.core.plugins.module_utils.aws import AWS_CONNECTION_SPEC, BOTO3_IMPORT_ERROR
from ansible_collections.rollback.core.plugins.module_utils.base import RollbackModule
from ansible_collections.rollback.core.plugins.module_utils.rds import restore
from ansible_collections.rollback.core.plugins.module_utils.wait import WAIT_SPEC


def main():
    module = RollbackModule(
        dict(
            db_instance_identifier=dict(type="str", required=True),
            db_snapshot_identifier=dict(type="str"),
            latest=dict(type="bool", default=False),
            snapshot_type=dict(type="str", choices=["manual", "automated"], default="manual"),
            target_db_instance_identifier=dict(type="str"),
            swap=dict(type="bool", default=False),
            db_instance_class=dict(type="str"),
            db_subnet_group_name=dict(type="str"),
            vpc_security_group_ids=dict(type="list", elements="str"),
            db_parameter_group_name=dict(type="str"),
            multi_az=dict(type="bool"),
            restore_options=dict(type="dict"),
        ),
        shared_specs=(AWS_CONNECTION_SPEC, WAIT_SPEC),
        mutually_exclusive=[("db_snapshot_identifier", "latest"), ("swap", "target_db_instance_identifier")],
        supports_check_mode=True,
    )
    module.require_library("boto3", BOTO3_IMPORT_ERROR)
    module.run(restore)


if __name__ == "__main__":
    main()
