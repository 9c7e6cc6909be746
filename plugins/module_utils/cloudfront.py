# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""CloudFront: find a distribution, tell whether its cache may be older than its origin, invalidate, wait."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import uuid

from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError

DISTRIBUTION_NOT_FOUND = ("NoSuchDistribution",)


def origin_domains(distribution):
    origins = ((distribution.get("DistributionConfig") or {}).get("Origins") or {}).get("Items") or []
    return [origin.get("DomainName", "") for origin in origins]


def serves_bucket(distribution, bucket):
    """Whether one of the distribution's origins is ``bucket`` (REST or website endpoint)."""
    return any(domain == bucket or domain.startswith(bucket + ".s3") for domain in origin_domains(distribution))


def cache_may_be_stale(newest_object, last_invalidation, slack=datetime.timedelta(seconds=1)):
    """True when an object changed after the last invalidation (or none was ever made).

    S3 keeps LastModified to the second: ``slack`` keeps an upload and the invalidation that followed it within
    the same second from looking stale.
    """
    if newest_object is None:
        return False
    return last_invalidation is None or newest_object > last_invalidation + slack


def is_completed(status):
    return (status or "").lower() == "completed"


class Distribution:
    def __init__(self, cloudfront, distribution_id):
        self.cf = cloudfront
        self.id = distribution_id

    def describe(self):
        found = self.cf.not_found("get_distribution", DISTRIBUTION_NOT_FOUND, Id=self.id)
        if found is None:
            raise RollbackError("CloudFront distribution %s not found" % self.id)
        return found["Distribution"]

    def last_invalidation(self):
        """Creation time of the newest invalidation (of the newest page CloudFront lists), or None."""
        listed = self.cf.call("list_invalidations", DistributionId=self.id).get("InvalidationList") or {}
        times = [item["CreateTime"] for item in listed.get("Items") or [] if item.get("CreateTime")]
        return max(times) if times else None

    def invalidate(self, paths):
        batch = dict(Paths=dict(Quantity=len(paths), Items=list(paths)),
                     CallerReference="rollback.core-%s" % uuid.uuid4().hex)
        found = self.cf.call("create_invalidation", DistributionId=self.id, InvalidationBatch=batch)
        return found["Invalidation"]

    def invalidation_status(self, invalidation_id):
        return self.cf.call("get_invalidation", DistributionId=self.id, Id=invalidation_id)["Invalidation"]["Status"]
