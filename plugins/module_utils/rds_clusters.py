# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The writer and readers of a restored cluster.

RestoreDBClusterFromSnapshot and RestoreDBClusterToPointInTime create an Aurora cluster with no instance
in it (a cluster without instances serves nothing), so the source cluster's members are created again with
CreateDBInstance, each with its member's class and settings, the writer first (the first instance of an
Aurora cluster becomes its writer). A Multi-AZ DB cluster (DBClusterInstanceClass set) gets its instances
from the restore itself. Member names are derived from the rollback's stamp, so a re-run finds the ones
already created and creates only the missing ones.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.rollback.core.plugins.module_utils.rds_resources import InstanceKind
from ansible_collections.rollback.core.plugins.module_utils.rds_settings import MEMBER_SETTINGS, carried_tags

MAX_IDENTIFIER = 63


def derived_name(base, suffix):
    """``<base>-<suffix>`` within RDS's 63 characters (the base is shortened, never the suffix)."""
    keep = MAX_IDENTIFIER - len(suffix) - 1
    return "%s-%s" % (base[:keep].rstrip("-"), suffix)


def is_aurora(cluster):
    return not cluster.get("DBClusterInstanceClass")


def source_members(kind, cluster):
    """The source cluster's instances, writer first, as DescribeDBInstances shows them."""
    members = sorted(cluster.get("DBClusterMembers") or [],
                     key=lambda m: (not m.get("IsClusterWriter"), m.get("PromotionTier") or 0,
                                    m["DBInstanceIdentifier"]))
    instances = InstanceKind(kind.rds, kind.module)
    return [instances.get(m["DBInstanceIdentifier"]) or dict(DBInstanceIdentifier=m["DBInstanceIdentifier"])
            for m in members]


class Members:
    def __init__(self, kind, module, changes):
        self.instances = InstanceKind(kind.rds, module)
        self.module = module
        self.changes = changes

    def plan(self, cluster, target, stamp, tags, instance_class=None):
        """CreateDBInstance arguments for each member of ``cluster`` in the restored ``target`` cluster."""
        if not is_aurora(cluster):
            return []
        planned = []
        for member in source_members(self.instances, cluster):
            arguments = dict(DBInstanceIdentifier=derived_name(member["DBInstanceIdentifier"], "rb-" + stamp),
                             DBClusterIdentifier=target, Engine=cluster["Engine"],
                             Tags=carried_tags(member, tags))
            for name, read in MEMBER_SETTINGS:
                value = read(member)
                if value is not None:
                    arguments[name] = value
            if instance_class:
                arguments["DBInstanceClass"] = instance_class
            arguments.setdefault("DBInstanceClass", cluster.get("DBClusterInstanceClass"))
            planned.append(arguments)
        return planned

    def create(self, planned):
        """Create the planned members that do not exist yet, then wait for all of them."""
        for arguments in planned:
            name = arguments["DBInstanceIdentifier"]
            if self.instances.get(name) is not None:
                continue
            if self.module.check_mode:
                self.changes.append("would create cluster member %s (%s)" % (name, arguments.get("DBInstanceClass")))
                continue
            self.instances.rds.call("create_db_instance", retry_codes=("InvalidDBClusterStateFault",), **arguments)
            self.changes.append("created cluster member %s (%s)" % (name, arguments.get("DBInstanceClass")))
        for arguments in planned:
            self.instances.wait_available(arguments["DBInstanceIdentifier"])
        return [arguments["DBInstanceIdentifier"] for arguments in planned]
