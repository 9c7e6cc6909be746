# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tags that let a re-run find every step of an earlier run, whatever failed in between.

The restored resource is created with ``rollback-of``, ``rollback-stamp``, ``cutover`` and what it was
restored from; the old one is tagged ``replaced-by-rollback=<source>@<stamp>`` before it is renamed. Tags
stay on a resource through renames (RDS User Guide, "Renaming a DB instance"), and DescribeDBInstances /
DescribeDBClusters return them (TagList), so one listing shows where an earlier run stopped:

- restored, not yet renamed (the source still has its name): rename the source, then the restored one;
- first rename done (nothing has the source's name): rename the restored one;
- both done (the source's name is the restored one): finish fencing and the DNS check.

Names derive from the first run's stamp, so a re-run never creates a second restored resource.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError
from ansible_collections.rollback.core.plugins.module_utils.rds_resources import tags_of

TAG_OF = "rollback.core/rollback-of"
TAG_STAMP = "rollback.core/rollback-stamp"
TAG_CUTOVER = "rollback.core/cutover"
TAG_SNAPSHOT = "rollback.core/restored-from-snapshot"
TAG_TIME = "rollback.core/restored-to-time"
TAG_REPLACED = "rollback.core/replaced-by-rollback"
LATEST = "latest"


def restore_tags(source_id, stamp, cutover, origin):
    tags = {TAG_OF: source_id, TAG_STAMP: stamp, TAG_CUTOVER: cutover}
    tags.update(origin)
    return tags


def origin_of(resource):
    """What an earlier run restored ``resource`` from: {TAG_SNAPSHOT: id} or {TAG_TIME: time or 'latest'}."""
    tags = tags_of(resource)
    return dict((key, tags[key]) for key in (TAG_SNAPSHOT, TAG_TIME) if key in tags)


def describe_origin(origin):
    if TAG_SNAPSHOT in origin:
        return "snapshot %s" % origin[TAG_SNAPSHOT]
    return "the latest restorable time" if origin.get(TAG_TIME) == LATEST else "the time %s" % origin.get(TAG_TIME)


class Job:
    """One rollback of ``source_id`` as the tags show it: the restored resource, and the old one once tagged."""

    def __init__(self, kind, source_id, restored, old=None, started_here=False):
        self.kind = kind
        self.started_here = started_here  # False: an earlier run's, found by its tags
        self.source_id = source_id
        self.restored = restored
        tags = tags_of(restored)
        self.stamp = tags[TAG_STAMP]
        self.cutover = tags.get(TAG_CUTOVER)
        self.origin = origin_of(restored)
        self.old = old

    @property
    def restored_name(self):
        return self.restored[self.kind.id_key]

    @property
    def cut_over(self):
        return self.restored_name == self.source_id


def find_job(kind, everything, source_id, cutover, target=None):
    """The earlier, unfinished or finished, rollback of ``source_id`` this run continues, or None."""
    replaced = "%s@" % source_id
    olds = dict((tags_of(r)[TAG_REPLACED][len(replaced):], r) for r in everything
                if tags_of(r).get(TAG_REPLACED, "").startswith(replaced))
    restored = [r for r in everything if tags_of(r).get(TAG_OF) == source_id and TAG_REPLACED not in tags_of(r)
                and tags_of(r).get(TAG_STAMP) and tags_of(r).get(TAG_CUTOVER) == cutover]
    if cutover == "beside":
        restored = [r for r in restored if target is None or r[kind.id_key] == target]
        return [Job(kind, source_id, r) for r in restored]
    unfinished = [r for r in restored if r[kind.id_key] != source_id]
    if len(unfinished) > 1:
        raise RollbackError("several unfinished restores of %s exist (%s): delete the ones not wanted and re-run" % (
            source_id, ", ".join(sorted(r[kind.id_key] for r in unfinished))))
    live = [r for r in restored if r[kind.id_key] == source_id]
    jobs = [Job(kind, source_id, r) for r in unfinished + live]
    for job in jobs:
        job.old = olds.get(job.stamp)
    return jobs


def orphan_old(everything, source_id):
    """(stamp, old resource) of an earlier run whose restored resource is not visible (renaming), or None."""
    replaced = "%s@" % source_id
    stamps = set(tags_of(r).get(TAG_STAMP) for r in everything if tags_of(r).get(TAG_OF) == source_id)
    orphans = sorted([(tags_of(r)[TAG_REPLACED][len(replaced):], r) for r in everything
                      if tags_of(r).get(TAG_REPLACED, "").startswith(replaced)
                      and tags_of(r)[TAG_REPLACED][len(replaced):] not in stamps], key=lambda pair: pair[0])
    return orphans[-1] if orphans else None
