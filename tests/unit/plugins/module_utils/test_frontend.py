"""Protected prefixes, the backup plan, and the invalidation wait moto cannot show (it completes at once)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError
from ansible_collections.rollback.core.plugins.module_utils.frontend import (
    FrontendRestore, backup_plan, protected_prefixes)
from ansible_collections.rollback.core.plugins.module_utils.wait import Waiter, WaitTimeout


def params(**extra):
    base = dict(bucket="ui", exclude=[], backup_bucket=None, source_bucket=None)
    base.update(extra)
    return base


def test_backup_and_kept_releases_in_the_site_bucket_are_protected():
    assert protected_prefixes(params(exclude=["/status/"]), "", "releases/1.0.0/", "rollback-backup/") == [
        "releases/", "rollback-backup/", "status/"]


def test_prefixes_outside_the_site_or_in_other_buckets_need_no_protection():
    assert protected_prefixes(params(), "site/", "releases/1.0.0/", "backups/") == []
    assert protected_prefixes(params(backup_bucket="other", source_bucket="kept"), "", "1.0.0/", "") == []


@pytest.mark.parametrize("site,source,backup,message", [
    ("", None, "", "backup_prefix must not be empty"),
    ("backups/site/", None, "backups/", "backup_prefix backups/ contains the site prefix backups/site/"),
    ("site/", "site/", "b/", "source_prefix site/ is the site itself or contains it"),
    ("site/", "", "b/", "source_prefix (bucket root) is the site itself or contains it"),
])
def test_prefixes_that_would_overwrite_the_site_or_its_backup_are_refused(site, source, backup, message):
    with pytest.raises(RollbackError) as raised:
        protected_prefixes(params(), site, source, backup)
    assert raised.value.msg.startswith(message)


def test_versioning_replaces_the_copy():
    assert backup_plan("Enabled", "ui", "rollback-backup/T/", {"a": {}})["prefix"] is None
    suspended = backup_plan("Suspended", "ui", "rollback-backup/T/", {"a": {}, "b": {}})
    assert suspended["prefix"] == "rollback-backup/T/" and suspended["objects"] == 2


class FakeModule:
    check_mode = False

    def __init__(self, **extra):
        self.params = dict(bucket="ui", distribution_id="E1", invalidation_paths=["/*"], wait=True, wait_timeout=0,
                           wait_sleep=0.0)
        self.params.update(extra)


class FakeDistribution:
    id = "E1"

    def __init__(self, statuses):
        self.statuses = list(statuses)

    def invalidate(self, paths):
        return dict(Id="I1", Status="InProgress")

    def invalidation_status(self, invalidation_id):
        return self.statuses.pop(0)


def test_invalidation_is_waited_for_until_completed():
    module = FakeModule(wait_timeout=10)
    restore = FrontendRestore(module, s3=object(), cloudfront=object(),
                              waiter=Waiter(module, clock=lambda: 0.0, sleeper=lambda seconds: None))
    distribution = FakeDistribution(["InProgress", "InProgress", "Completed"])
    assert restore.invalidate(distribution) == dict(id="I1", status="Completed", paths=["/*"])
    assert distribution.statuses == []


def test_an_invalidation_still_in_progress_times_out_naming_it():
    module = FakeModule()
    restore = FrontendRestore(module, s3=object(), cloudfront=object(),
                              waiter=Waiter(module, clock=lambda: 0.0, sleeper=lambda seconds: None))
    with pytest.raises(WaitTimeout, match="CloudFront invalidation I1 of E1: status InProgress"):
        restore.invalidate(FakeDistribution(["InProgress"]))
