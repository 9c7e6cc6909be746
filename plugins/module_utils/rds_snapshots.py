# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a restore starts from: a named snapshot, the newest snapshot taken before a moment, or a point in time.

Snapshot lists are read over every page (DescribeDBSnapshots returns at most 100 per call and a Marker,
botocore's service model). ``any`` reads the types DescribeDBSnapshots returns without SnapshotType
(automated and manual) plus ``awsbackup``, which it returns only when asked for (the SnapshotType
documentation); DescribeDBClusterSnapshots has no awsbackup type.

The moment a snapshot holds data from is its SnapshotDatabaseTime (the last transaction in it), else
OriginalSnapshotCreateTime (unchanged by copies, unlike SnapshotCreateTime), else SnapshotCreateTime.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import re

from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError

SNAPSHOT_TYPES = ("manual", "automated", "awsbackup", "any")
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
_ISO = re.compile(r"^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)(Z|[+-]\d{2}:?\d{2})$")


class SnapshotSource:
    def __init__(self, rds, cluster):
        self.rds = rds
        self.cluster = cluster
        if cluster:
            self.op, self.key = "describe_db_cluster_snapshots", "DBClusterSnapshots"
            self.id_key, self.owner_key = "DBClusterSnapshotIdentifier", "DBClusterIdentifier"
            self.not_found_codes = ("DBClusterSnapshotNotFoundFault",)
        else:
            self.op, self.key = "describe_db_snapshots", "DBSnapshots"
            self.id_key, self.owner_key = "DBSnapshotIdentifier", "DBInstanceIdentifier"
            self.not_found_codes = ("DBSnapshotNotFound", "DBSnapshotNotFoundFault")

    def find(self, name):
        found = self.rds.not_found(self.op, self.not_found_codes, **{self.id_key: name})
        snapshots = (found or {}).get(self.key) or []
        return snapshots[0] if snapshots else None

    def named(self, name, created_before=None):
        snapshot = self.find(name)
        if snapshot is None:
            raise RollbackError("snapshot %s not found" % name)
        if snapshot.get("Status") != "available":
            raise RollbackError("snapshot %s is %s, not available" % (name, snapshot.get("Status")))
        if created_before is not None and taken_at(snapshot) >= created_before:
            raise RollbackError("snapshot %s holds data from %s, not before created_before %s" % (
                name, iso(taken_at(snapshot)), iso(created_before)))
        return snapshot

    def newest(self, owner, kind, created_before=None):
        if kind == "awsbackup" and self.cluster:
            raise RollbackError("snapshot_type awsbackup applies to DB instances: DescribeDBClusterSnapshots has no "
                                "awsbackup type")
        listings = [None, "awsbackup"] if kind == "any" and not self.cluster else [None if kind == "any" else kind]
        listed = []
        for snapshot_type in listings:
            arguments = {self.owner_key: owner}
            if snapshot_type:
                arguments["SnapshotType"] = snapshot_type
            listed += self.rds.paginate(self.op, self.key, **arguments)
        usable = [s for s in listed if s.get("Status") == "available"
                  and (created_before is None or taken_at(s) < created_before)]
        if not usable:
            raise RollbackError("no available %s snapshot of %s%s (found: %s)" % (
                kind, owner, " taken before %s" % iso(created_before) if created_before else "",
                ", ".join("%s (%s, %s)" % (s[self.id_key], s.get("Status"), iso(taken_at(s))) for s in listed)
                or "none"))
        return max(usable, key=taken_at)

    @staticmethod
    def taken_at(snapshot):
        return taken_at(snapshot)

    def describe(self, snapshot):
        created = taken_at(snapshot)
        return dict(id=snapshot[self.id_key], create_time=iso(created) if created != EPOCH else None,
                    type=snapshot.get("SnapshotType"), source=snapshot.get(self.owner_key))


def taken_at(snapshot):
    for key in ("SnapshotDatabaseTime", "OriginalSnapshotCreateTime", "SnapshotCreateTime"):
        if isinstance(snapshot.get(key), datetime.datetime):
            return snapshot[key]
    return EPOCH


def parse_time(text, option):
    """An ISO 8601 time with a UTC offset (``2025-11-12T09:59:59Z``) as an aware datetime."""
    match = _ISO.match((text or "").strip())
    if not match:
        raise RollbackError("%s must be an ISO 8601 time with its UTC offset, e.g. 2025-11-12T09:59:59Z; got %r"
                            % (option, text))
    day, clock, zone = match.groups()
    zone = "+00:00" if zone == "Z" else zone if ":" in zone else zone[:3] + ":" + zone[3:]
    if clock.count(":") == 1:
        clock += ":00"
    try:
        return datetime.datetime.strptime("%sT%s%s" % (day, clock.split(".")[0], zone.replace(":", "")),
                                          "%Y-%m-%dT%H:%M:%S%z")
    except ValueError as error:
        raise RollbackError("%s is not a valid time: %s" % (option, error))


def iso(moment):
    if not isinstance(moment, datetime.datetime):
        return moment
    return moment.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def now():
    return datetime.datetime.now(datetime.timezone.utc)
