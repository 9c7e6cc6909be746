#!/usr/bin/python
# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: frontend_restore
short_description: Put a previous frontend build back in its S3 bucket, invalidate CloudFront and verify
description:
  - The UI rollback of runbook 004 (C(aws s3 sync dist/ s3://bucket --delete), C(aws cloudfront create-invalidation
    --paths "/*"), then a check of what is served), as one idempotent task.
  - The previous build comes from a local directory (O(src)) or from kept releases in S3 (O(source_bucket),
    O(source_prefix)), copied server-side.
  - 'Sync by content: objects are compared by size and MD5 (the ETag of a single-part upload, or the metadata
    C(rollback-core-md5) this module writes on uploads, so KMS-encrypted buckets compare too). Missing and changed
    objects are uploaded (content type from the file name), objects not in the source are deleted with
    O(delete=true). An object whose MD5 cannot be known (multipart ETag, no metadata) is copied again.'
  - 'Data is never lost: before the first write, every current object of the site is copied to
    C(<backup_prefix><UTC timestamp>/) in O(backup_bucket) (default, the site bucket), unless the bucket has
    versioning C(Enabled). RV(backup) says where; that prefix can itself be given as O(source_prefix) to go back.'
  - Never written or deleted by the sync - O(exclude), O(backup_prefix) when backups go to the site bucket, and, when
    the source is in the site bucket, the first folder of O(source_prefix) relative to O(prefix) (C(releases/) for
    C(releases/1.4.2/)), so the other kept releases stay.
  - With O(distribution_id), an invalidation of O(invalidation_paths) follows any change, and also a run that
    changes nothing while the site's objects are newer than the distribution's last invalidation (a previous run
    failed between the sync and the invalidation). It is waited for with O(wait).
  - 'Verify: O(verify_key) is read back from the bucket and must have the source''s MD5; with O(verify_url), the URL
    must serve that content too (retried until O(wait_timeout), for the CDN to catch up).'
  - 'Refused before any change: a missing bucket, a missing or empty source (an empty build with O(delete) would wipe
    the site), O(verify_key) missing from the source, an unknown distribution, a source prefix that contains the
    site.'
version_added: 0.1.0
author:
  - rollback.core maintainers (@rollback-core)
extends_documentation_fragment:
  - rollback.core.aws
  - rollback.core.wait
options:
  bucket:
    description:
      - The bucket the site is served from.
    type: str
    required: true
  prefix:
    description:
      - Key prefix of the site in O(bucket); default, the bucket's root.
    type: str
    default: ""
  src:
    description:
      - Local directory holding the build to restore (the C(dist/) of the previous version).
      - Exactly one of O(src) and O(source_prefix) is given.
    type: path
  source_bucket:
    description:
      - Bucket of the kept releases; default O(bucket). Used with O(source_prefix).
    type: str
  source_prefix:
    description:
      - Prefix of the build to restore in O(source_bucket), for example C(releases/1.4.2/). Objects are copied
        server-side, keeping their content type and metadata.
    type: str
  delete:
    description:
      - Delete objects of the site that are not in the source (C(--delete) in the runbook).
    type: bool
    default: true
  exclude:
    description:
      - Key prefixes, relative to O(prefix), that the sync never writes or deletes (for example C(releases/) when the
        kept releases live in the site bucket).
    type: list
    elements: str
    default: []
  backup_bucket:
    description:
      - Bucket for the copy of the current objects; default O(bucket).
    type: str
  backup_prefix:
    description:
      - Prefix under which each run's backup goes, as C(<backup_prefix><UTC timestamp>/).
    type: str
    default: rollback-backup/
  distribution_id:
    description:
      - CloudFront distribution in front of the bucket, to invalidate.
    type: str
  invalidation_paths:
    description:
      - Paths to invalidate.
    type: list
    elements: str
    default: ["/*"]
  verify_key:
    description:
      - Key, relative to O(prefix) and to the source, read back after the sync and compared with the source.
        An empty string skips the check.
    type: str
    default: index.html
  verify_url:
    description:
      - URL that serves O(verify_key) (for example C(https://app.example.com/)); its body must have the source's MD5.
    type: str
attributes:
  check_mode:
    description: Reads both sides and reports the planned uploads, deletes, backup and invalidation.
    support: full
  diff_mode:
    description: The site's objects (key and MD5) before and after, and whether an invalidation is pending.
    support: full
notes:
  - Objects larger than 5 GB cannot be copied with CopyObject (backup, S3 source); frontend builds are far smaller.
"""

EXAMPLES = r"""
- name: Roll the UI back to the build kept for the previous release
  rollback.core.frontend_restore:
    bucket: platform-ui-production
    source_bucket: platform-ui-releases
    source_prefix: "{{ previous_ui_version }}/"
    distribution_id: E2QWRUHAPOMQZL
    verify_url: https://app.example.com/
  register: ui

- name: From a local build directory, kept releases in the same bucket
  rollback.core.frontend_restore:
    bucket: platform-ui-production
    src: /srv/builds/ui-1.4.2/dist
    exclude: [releases/]
    distribution_id: E2QWRUHAPOMQZL

- name: Go forward again from the backup the rollback made
  rollback.core.frontend_restore:
    bucket: platform-ui-production
    source_prefix: "{{ ui.backup.prefix }}"
    distribution_id: E2QWRUHAPOMQZL
"""

RETURN = r"""
bucket:
  description: The site bucket.
  returned: always
  type: str
prefix:
  description: The site prefix (normalized, empty or ending in C(/)).
  returned: always
  type: str
source:
  description: The source (type C(directory) with path, or C(s3) with bucket and prefix).
  returned: always
  type: dict
to_version:
  description: The build put live, for reports - the source directory, or C(s3://<bucket>/<prefix>).
  returned: always
  type: str
uploaded:
  description: Keys (relative to the prefix) uploaded or copied, or planned in check mode.
  returned: always
  type: list
  elements: str
deleted:
  description: Keys deleted, or planned in check mode.
  returned: always
  type: list
  elements: str
unchanged:
  description: Number of objects already equal to the source (or kept with O(delete=false)).
  returned: always
  type: int
excluded_prefixes:
  description: Prefixes the sync left alone (O(exclude), the backup and source prefixes in the site bucket).
  returned: always
  type: list
  elements: str
backup:
  description:
    - Where the previous objects are (bucket, prefix, objects, versioning); with versioning C(Enabled), prefix is
      null and the note says the bucket keeps the versions. Null when nothing changed.
  returned: always
  type: dict
invalidation:
  description: The CloudFront invalidation (id, status, paths); null when none was needed.
  returned: always
  type: dict
served_index_etag:
  description: ETag of O(verify_key) in the bucket before and after.
  returned: always
  type: dict
verified:
  description: What was verified (key, md5, url); null in check mode or with an empty O(verify_key).
  returned: always
  type: dict
duration:
  description: Seconds the module took.
  returned: always
  type: float
"""

from ansible_collections.rollback.core.plugins.module_utils.aws import AWS_CONNECTION_SPEC, BOTO3_IMPORT_ERROR
from ansible_collections.rollback.core.plugins.module_utils.base import RollbackModule
from ansible_collections.rollback.core.plugins.module_utils.frontend import FRONTEND_SPEC, frontend_restore
from ansible_collections.rollback.core.plugins.module_utils.wait import WAIT_SPEC


def main():
    module = RollbackModule(
        FRONTEND_SPEC,
        shared_specs=(AWS_CONNECTION_SPEC, WAIT_SPEC),
        required_one_of=[("src", "source_prefix")],
        mutually_exclusive=[("src", "source_prefix"), ("src", "source_bucket")],
        required_by=dict(source_bucket="source_prefix"),
        supports_check_mode=True,
    )
    module.require_library("boto3", BOTO3_IMPORT_ERROR)
    module.run(frontend_restore)


if __name__ == "__main__":
    main()
