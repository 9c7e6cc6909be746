"""rds_resume: how a re-run finds where an earlier rollback stopped, from the tags on the resources (TagList as
DescribeDBInstances returns it, botocore's service model; tags stay on a resource through a rename, RDS User
Guide, "Renaming a DB instance")."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError
from ansible_collections.rollback.core.plugins.module_utils.rds_resources import InstanceKind
from ansible_collections.rollback.core.plugins.module_utils.rds_resume import (
    TAG_CUTOVER, TAG_OF, TAG_REPLACED, TAG_SNAPSHOT, TAG_STAMP, TAG_TIME, Job, describe_origin, find_job, orphan_old,
    origin_of, restore_tags)

KIND = InstanceKind(None, None)


def db(name, **tags):
    return dict(DBInstanceIdentifier=name, TagList=[dict(Key=k, Value=v) for k, v in sorted(tags.items())])


def restored(name, stamp, cutover="swap", source="app", **more):
    return db(name, **dict({TAG_OF: source, TAG_STAMP: stamp, TAG_CUTOVER: cutover, TAG_SNAPSHOT: "snap-1"}, **more))


def old(name, stamp, source="app"):
    return db(name, **{TAG_REPLACED: "%s@%s" % (source, stamp)})


def test_restore_tags_and_origin():
    tags = restore_tags("app", "20251112103000", "swap", {TAG_TIME: "latest"})
    assert tags == {TAG_OF: "app", TAG_STAMP: "20251112103000", TAG_CUTOVER: "swap", TAG_TIME: "latest"}
    assert origin_of(db("x", **tags)) == {TAG_TIME: "latest"}
    assert describe_origin({TAG_TIME: "latest"}) == "the latest restorable time"
    assert describe_origin({TAG_TIME: "2025-11-12T10:00:00Z"}) == "the time 2025-11-12T10:00:00Z"
    assert describe_origin({TAG_SNAPSHOT: "snap-1", TAG_TIME: "x"}) == "snapshot snap-1"


def test_nothing_to_resume():
    assert find_job(KIND, [db("app"), db("other")], "app", "swap") == []
    assert orphan_old([db("app")], "app") is None


def test_restored_not_yet_renamed():
    everything = [db("app"), restored("app-rb-1", "1")]
    [job] = find_job(KIND, everything, "app", "swap")
    expected = ("app-rb-1", "1", False, None, False)
    assert (job.restored_name, job.stamp, job.cut_over, job.old, job.started_here) == expected
    assert job.origin == {TAG_SNAPSHOT: "snap-1"}


def test_both_renames_done_pairs_the_old_resource_by_stamp():
    everything = [restored("app", "2"), old("app-pre-rollback-2", "2"), old("app-pre-rollback-1", "1"),
                  old("apple-pre", "2", source="apple")]
    [job] = find_job(KIND, everything, "app", "swap")
    assert job.cut_over is True and job.old["DBInstanceIdentifier"] == "app-pre-rollback-2"


def test_other_rollbacks_and_cutovers_are_not_taken():
    everything = [restored("apple-rb", "1", source="apple"), restored("app-beside", "1", cutover="beside"),
                  db("app-rb-x", **{TAG_OF: "app", TAG_CUTOVER: "swap"}),  # no stamp: not ours to resume
                  dict(restored("app-rb-y", "3"), TagList=restored("app-rb-y", "3")["TagList"] + [
                      dict(Key=TAG_REPLACED, Value="app@1")])]  # an old resource of an earlier rollback
    assert find_job(KIND, everything, "app", "swap") == []


def test_two_unfinished_restores_are_refused():
    everything = [restored("app-rb-2", "2"), restored("app-rb-1", "1")]
    with pytest.raises(RollbackError, match=r"^several unfinished restores of app exist \(app-rb-1, app-rb-2\): "
                                            r"delete the ones not wanted and re-run$"):
        find_job(KIND, everything, "app", "swap")


def test_beside_restores_are_listed_per_target():
    everything = [restored("app-copy-1", "1", cutover="beside"), restored("app-copy-2", "2", cutover="beside")]
    assert [j.restored_name for j in find_job(KIND, everything, "app", "beside")] == ["app-copy-1", "app-copy-2"]
    assert [j.restored_name for j in find_job(KIND, everything, "app", "beside", target="app-copy-2")] == [
        "app-copy-2"]


def test_an_old_resource_whose_restored_one_is_mid_rename_is_an_orphan():
    everything = [old("app-pre-rollback-3", "3"), old("app-pre-rollback-1", "1"), old("app-pre-rollback-4", "4"),
                  restored("app-rb-4", "4")]  # 4's restored resource is visible: not an orphan
    stamp, resource = orphan_old(everything, "app")
    assert stamp == "3" and resource["DBInstanceIdentifier"] == "app-pre-rollback-3"


def test_job_reads_its_tags():
    job = Job(KIND, "app", restored("app", "7", cutover="swap", **{TAG_TIME: "latest"}), started_here=True)
    assert (job.stamp, job.cutover, job.cut_over, job.started_here) == ("7", "swap", True, True)
    assert job.origin == {TAG_SNAPSHOT: "snap-1", TAG_TIME: "latest"}
