# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The two kinds of RDS resource a rollback restores, a DB instance and a DB cluster, and the waits on them.

Only names differ between the kinds (operations, parameters, keys, error codes), so the restore, the
waits and the cutover are written once against a ``Kind``.

Statuses that never become ``available`` again fail the wait at once, with AWS's status in the message:
the failure acceptors of botocore's DBInstanceAvailable and DBClusterAvailable waiters
(botocore/data/rds/2014-10-31/waiters-2.json: deleted, deleting, failed, incompatible-restore,
incompatible-parameters) and the statuses the RDS User Guide ("Viewing Amazon RDS DB instance status")
describes as needing an operator (restore-error, incompatible-network, incompatible-option-group,
inaccessible-encryption-credentials). A resource that is not found is waited for: a new name is unknown
to DescribeDBInstances until a rename takes effect (User Guide, "Renaming a DB instance"), and amazon.aws's
rds module_utils (wait_for_instance_status) re-waits through DBInstanceNotFound for the same reason.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError
from ansible_collections.rollback.core.plugins.module_utils.wait import Waiter

TERMINAL = frozenset(["deleted", "deleting", "failed", "incompatible-restore", "incompatible-parameters",
                      "restore-error", "incompatible-network", "incompatible-option-group",
                      "inaccessible-encryption-credentials"])


class Kind:
    """Describe, list, modify, tag, stop and wait for one kind of RDS resource."""

    def __init__(self, rds, module):
        self.rds = rds
        self.module = module

    def get(self, identifier):
        found = self.rds.not_found(self.describe_op, self.not_found_codes, **{self.id_key: identifier})
        items = (found or {}).get(self.list_key) or []
        return items[0] if items else None

    def all(self):
        return self.rds.paginate(self.describe_op, self.list_key)

    def modify(self, identifier, **arguments):
        arguments[self.id_key] = identifier
        arguments["ApplyImmediately"] = True
        return self.rds.call(self.modify_op, retry_codes=self.state_codes, **arguments)

    def rename(self, identifier, new_identifier):
        return self.modify(identifier, **{self.new_id_param: new_identifier})

    def stop(self, identifier):
        return self.rds.call(self.stop_op, retry_codes=self.state_codes, **{self.id_key: identifier})

    def add_tags(self, resource, tags):
        self.rds.call("add_tags_to_resource", ResourceName=resource[self.arn_key],
                      Tags=[dict(Key=key, Value=value) for key, value in sorted(tags.items())])

    def status(self, resource):
        return resource.get(self.status_key) if resource else None

    def wait_available(self, identifier, until=None, why="to be available"):
        """Wait until ``identifier`` exists, is available and ``until(resource)`` (if given) holds.

        Returns the resource seen last, or None when waiting is off (check mode, ``wait: false``).
        """
        waiter = Waiter(self.module)
        started = time.monotonic()
        seen = {}

        def probe():
            resource = self.get(identifier)
            seen["last"] = resource
            status = self.status(resource)
            if status in TERMINAL:
                raise RollbackError("RDS %s %s is %s, a status AWS does not leave by itself%s; it is kept for "
                                    "inspection: delete it before restoring again" % (
                                        self.noun, identifier, status, _status_infos(resource)),
                                    aws_status=status)
            pending = until(resource) if resource is not None and status == "available" and until else None
            done = status == "available" and not pending
            return done, "%s %s, %ds of %ds%s" % (
                self.noun, self.progress(resource), time.monotonic() - started, waiter.timeout,
                "; not yet applied: %s" % pending if pending else "")

        if waiter.wait(probe, "RDS %s %s %s" % (self.noun, identifier, why)) is None:
            return None
        return seen["last"]

    def progress(self, resource):
        if resource is None:
            return "not found yet (a new name appears once a rename takes effect)"
        text = "status %s" % self.status(resource)
        if resource.get("PercentProgress"):
            text += " (%s%%)" % resource["PercentProgress"]
        return text


class InstanceKind(Kind):
    noun = "instance"
    describe_op, list_key, id_key = "describe_db_instances", "DBInstances", "DBInstanceIdentifier"
    status_key, arn_key = "DBInstanceStatus", "DBInstanceArn"
    modify_op, new_id_param, stop_op = "modify_db_instance", "NewDBInstanceIdentifier", "stop_db_instance"
    not_found_codes = ("DBInstanceNotFound", "DBInstanceNotFoundFault")
    # amazon.aws rds module_utils get_rds_method_attribute: instance methods retry these two.
    state_codes = ("InvalidDBInstanceState", "InvalidDBSecurityGroupState")

    @staticmethod
    def replicas(resource):
        return list(resource.get("ReadReplicaDBInstanceIdentifiers") or []) + list(
            resource.get("ReadReplicaDBClusterIdentifiers") or [])

    @staticmethod
    def endpoint(resource):
        return (resource.get("Endpoint") or {}).get("Address")

    @staticmethod
    def security_groups(resource):
        return sorted(g["VpcSecurityGroupId"] for g in resource.get("VpcSecurityGroups") or []
                      if g.get("Status") not in ("removing", "inactive"))


class ClusterKind(Kind):
    noun = "cluster"
    describe_op, list_key, id_key = "describe_db_clusters", "DBClusters", "DBClusterIdentifier"
    status_key, arn_key = "Status", "DBClusterArn"
    modify_op, new_id_param, stop_op = "modify_db_cluster", "NewDBClusterIdentifier", "stop_db_cluster"
    not_found_codes = ("DBClusterNotFoundFault",)
    # The service model's code is InvalidDBClusterStateFault; amazon.aws retries "InvalidDBClusterState".
    state_codes = ("InvalidDBClusterStateFault", "InvalidDBClusterState")

    @staticmethod
    def replicas(resource):
        return list(resource.get("ReadReplicaIdentifiers") or [])

    @staticmethod
    def endpoint(resource):
        return resource.get("Endpoint")

    @staticmethod
    def security_groups(resource):
        return InstanceKind.security_groups(resource)


def _status_infos(resource):
    infos = (resource or {}).get("StatusInfos") or []
    text = "; ".join("%s %s%s" % (i.get("StatusType"), i.get("Status"), ": " + i["Message"] if i.get("Message") else "")
                     for i in infos)
    return " (%s)" % text if text else ""


def tags_of(resource):
    return dict((tag["Key"], tag["Value"]) for tag in (resource or {}).get("TagList") or [])
