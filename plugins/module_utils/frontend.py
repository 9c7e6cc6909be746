# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""UI rollback (runbook 004): put the previous build back in the site bucket, invalidate the CDN, verify.

``aws s3 sync dist/ s3://bucket --delete`` becomes a plan by content (size
and MD5), applied only after every input was checked. Before any object is
overwritten or deleted, the site's current objects are copied to a
timestamped backup prefix, unless the bucket keeps versions itself. The
CloudFront invalidation follows any change, and also a run whose objects are
newer than the distribution's last invalidation (a run that failed between
the sync and the invalidation). The restored index is then read back from
the bucket, and from ``verify_url`` when given, and must equal the source's.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible.module_utils.six.moves.urllib.error import HTTPError, URLError
from ansible.module_utils.urls import Request

from ansible_collections.rollback.core.plugins.module_utils.aws import AwsClient
from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError
from ansible_collections.rollback.core.plugins.module_utils.toolkit import utc_stamp
from ansible_collections.rollback.core.plugins.module_utils.cloudfront import (
    Distribution, cache_may_be_stale, is_completed, serves_bucket)
from ansible_collections.rollback.core.plugins.module_utils.s3 import (
    Bucket, bytes_md5, is_excluded, local_tree, normalize_prefix, parallel, planned_state, sync_plan)
from ansible_collections.rollback.core.plugins.module_utils.wait import Waiter

FRONTEND_SPEC = dict(
    bucket=dict(type="str", required=True),
    prefix=dict(type="str", default=""),
    src=dict(type="path"),
    source_bucket=dict(type="str"),
    source_prefix=dict(type="str"),
    delete=dict(type="bool", default=True),
    exclude=dict(type="list", elements="str", default=[]),
    backup_bucket=dict(type="str"),
    backup_prefix=dict(type="str", default="rollback-backup/"),
    distribution_id=dict(type="str"),
    invalidation_paths=dict(type="list", elements="str", default=["/*"]),
    verify_key=dict(type="str", default="index.html", no_log=False),
    verify_url=dict(type="str"),
)


def fetch(url, validate_certs=True, timeout=10):
    """``(status, body bytes, error)`` of a GET; HTTP errors are answers too."""
    try:
        response = Request().open("GET", url, timeout=timeout, validate_certs=validate_certs, follow_redirects="safe")
        return response.getcode(), response.read(), None
    except HTTPError as error:
        return error.code, error.read() or b"", None
    except (URLError, OSError, ValueError) as error:
        return None, b"", "%s" % (getattr(error, "reason", None) or error)


def protected_prefixes(params, site_prefix, source_prefix, backup_prefix):
    """Key prefixes (relative to the site prefix) the sync never writes or deletes; conflicts fail at once."""
    bucket = params["bucket"]
    excluded = [item.lstrip("/") for item in params["exclude"] if item.strip("/")]
    if (params["backup_bucket"] or bucket) == bucket:
        if not backup_prefix:
            raise RollbackError("backup_prefix must not be empty when backups go to the site bucket")
        if site_prefix.startswith(backup_prefix):
            raise RollbackError("backup_prefix %s contains the site prefix %s" % (backup_prefix, site_prefix))
        if backup_prefix.startswith(site_prefix):
            excluded.append(backup_prefix[len(site_prefix):])
    if source_prefix is not None and (params["source_bucket"] or bucket) == bucket:
        if site_prefix.startswith(source_prefix):
            raise RollbackError("source_prefix %s is the site itself or contains it (prefix %s)"
                                % (source_prefix or "(bucket root)", site_prefix or "(bucket root)"))
        if source_prefix.startswith(site_prefix):
            # The folder of kept releases (``releases/`` of ``releases/1.4.2/``): the source and its siblings.
            excluded.append(source_prefix[len(site_prefix):].split("/")[0] + "/")
    return sorted(set(excluded))


def backup_plan(versioning, bucket, prefix, in_scope):
    """Where the site's current objects go before the sync: nowhere when the bucket keeps versions itself."""
    if versioning == "Enabled":
        return dict(versioning="Enabled", bucket=bucket, prefix=None, objects=0,
                    note="previous versions are kept by the bucket's versioning")
    return dict(versioning=versioning, bucket=bucket, prefix=prefix, objects=len(in_scope))


class FrontendRestore:
    def __init__(self, module, s3=None, cloudfront=None, waiter=None, fetcher=None):
        self.module = module
        self.params = params = module.params
        self.s3 = s3 or AwsClient(params, "s3")
        self.cloudfront = cloudfront
        if cloudfront is None and params["distribution_id"]:
            self.cloudfront = AwsClient(params, "cloudfront")
        self.waiter = waiter or Waiter(module)
        self.fetcher = fetcher or fetch
        self.stamp = utc_stamp()

    # --- reading, all before any change ------------------------------------------------------------------------

    def read_source(self):
        """``(description, tree, verify md5)``; refuses a missing or empty source."""
        params = self.params
        if params["src"]:
            where = params["src"]
            if not os.path.isdir(where):
                raise RollbackError("src %s is not a directory" % where)
            tree = local_tree(where)
            description = dict(type="directory", path=where)
        else:
            bucket = Bucket(self.s3, params["source_bucket"] or params["bucket"])
            prefix = normalize_prefix(params["source_prefix"])
            where = "s3://%s/%s" % (bucket.name, prefix)
            bucket.versioning()
            tree = bucket.fill_md5(bucket.list(prefix), prefix)
            description = dict(type="s3", bucket=bucket.name, prefix=prefix)
        if not tree:
            raise RollbackError("source %s has no files: refusing to sync an empty build (with delete it would wipe "
                                "the site)" % where)
        key = params["verify_key"]
        if not key:
            return description, tree, None
        if key not in tree:
            raise RollbackError("verify_key %s is not in the source %s" % (key, where))
        if params["src"]:
            return description, tree, tree[key]["md5"]
        return description, tree, bytes_md5(Bucket(self.s3, description["bucket"]).read(description["prefix"] + key))

    def distribution(self):
        if not self.params["distribution_id"]:
            return None
        distribution = Distribution(self.cloudfront, self.params["distribution_id"])
        described = distribution.describe()
        if not serves_bucket(described, self.params["bucket"]):
            self.module.warn("CloudFront distribution %s has no origin in bucket %s" % (distribution.id,
                                                                                        self.params["bucket"]))
        return distribution

    def run(self):
        params = self.params
        site = Bucket(self.s3, params["bucket"])
        site_prefix = normalize_prefix(params["prefix"])
        source_prefix = None if params["src"] else normalize_prefix(params["source_prefix"])
        backup_prefix = normalize_prefix(params["backup_prefix"])
        excluded = protected_prefixes(params, site_prefix, source_prefix, backup_prefix)
        versioning = site.versioning()
        backup_bucket = Bucket(self.s3, params["backup_bucket"] or params["bucket"])
        if backup_bucket.name != site.name:
            backup_bucket.versioning()
        description, source, expected_md5 = self.read_source()
        distribution = self.distribution()

        dest = site.list(site_prefix)
        in_scope = dict((key, item) for key, item in dest.items() if not is_excluded(key, excluded))
        site.fill_md5(dict((key, in_scope[key]) for key in in_scope if key in source), site_prefix)
        plan = sync_plan(source, dest, params["delete"], excluded)
        changes = bool(plan["create"] or plan["update"] or plan["delete"])
        stale = False
        if distribution is not None:
            newest = max([item["last_modified"] for item in in_scope.values() if item["last_modified"]] or [None])
            stale = cache_may_be_stale(newest, distribution.last_invalidation()) if newest else False
        invalidate = distribution is not None and (changes or stale)
        before = dict(objects=dict((key, item["md5"]) for key, item in in_scope.items()))
        after = dict(objects=planned_state(source, in_scope, plan))
        if distribution is not None:
            before["invalidation_pending"], after["invalidation_pending"] = invalidate, False
        verify_key = params["verify_key"]
        index_before = (in_scope.get(verify_key) or {}).get("etag") if verify_key else None
        result = self.module.changed_result(
            before, after, bucket=site.name, prefix=site_prefix, source=description,
            # The build put live, for reports: its directory or its S3 prefix.
            to_version=description.get("path") or "s3://%s/%s" % (description["bucket"], description["prefix"]),
            uploaded=sorted(plan["create"] + plan["update"]), deleted=plan["delete"], unchanged=len(plan["unchanged"]),
            excluded_prefixes=excluded, backup=None, invalidation=None, verified=None,
            served_index_etag=dict(before=index_before, after=index_before if not changes else expected_md5))
        if changes:
            result["backup"] = backup_plan(versioning, backup_bucket.name, backup_prefix + self.stamp + "/", in_scope)
        if invalidate:
            result["invalidation"] = dict(id=None, status="planned", paths=params["invalidation_paths"])
        if self.module.check_mode:
            return result

        try:
            if changes:
                self.apply(site, site_prefix, description, source, plan, in_scope, result["backup"])
            if invalidate:
                result["invalidation"] = self.invalidate(distribution)
            result["verified"], result["served_index_etag"]["after"] = self.verify(site, site_prefix, expected_md5)
        except RollbackError as error:
            # What was done so far goes with the failure, for the report and the next run.
            for name in ("changed", "uploaded", "deleted", "backup", "invalidation"):
                error.details.setdefault(name, result[name])
            raise
        return result

    # --- changing -------------------------------------------------------------------------------------------------

    def apply(self, site, site_prefix, description, source, plan, in_scope, backup):
        if backup.get("prefix"):
            target = Bucket(self.s3, backup["bucket"])
            parallel(lambda key: target.copy_from(site.name, site_prefix + key, backup["prefix"] + key),
                     sorted(in_scope))
        if description["type"] == "directory":
            parallel(lambda key: site.upload(site_prefix + key, source[key]["path"], source[key]["md5"]),
                     plan["create"] + plan["update"])
        else:
            parallel(lambda key: site.copy_from(description["bucket"], description["prefix"] + key, site_prefix + key),
                     plan["create"] + plan["update"])
        if plan["delete"]:
            site.delete([site_prefix + key for key in plan["delete"]])

    def invalidate(self, distribution):
        paths = self.params["invalidation_paths"]
        created = distribution.invalidate(paths)
        invalidation = dict(id=created["Id"], status=created.get("Status"), paths=paths)

        def probe():
            invalidation["status"] = distribution.invalidation_status(created["Id"])
            return is_completed(invalidation["status"]), "status %s" % invalidation["status"]

        self.waiter.wait(probe, "CloudFront invalidation %s of %s" % (created["Id"], distribution.id))
        return invalidation

    # --- verifying ------------------------------------------------------------------------------------------------

    def verify(self, site, site_prefix, expected):
        """Read the index back from the bucket (and ``verify_url``); ``(verified, served etag)``."""
        key = self.params["verify_key"]
        if not key:
            return None, None
        found = self.s3.not_found("get_object", ("NoSuchKey",), Bucket=site.name, Key=site_prefix + key)
        served = bytes_md5(found["Body"].read()) if found else None
        if served != expected:
            raise RollbackError("verify: s3://%s/%s%s has MD5 %s after the sync, the source's is %s"
                                % (site.name, site_prefix, key, served, expected))
        verified = dict(key=site_prefix + key, md5=expected, url=None)
        url = self.params["verify_url"]
        if url:
            def probe():
                status, body, error = self.fetcher(url, self.params["validate_certs"])
                if error:
                    return False, "request failed: %s" % error
                md5 = bytes_md5(body)
                return status == 200 and md5 == expected, "status %s, MD5 %s, expected %s" % (status, md5, expected)

            if self.waiter.enabled:
                self.waiter.wait(probe, "%s to serve the restored %s" % (url, key))
            else:
                done, state = probe()
                if not done:
                    raise RollbackError("verify_url %s: %s" % (url, state))
            verified["url"] = url
        return verified, (found.get("ETag") or "").strip('"')


def frontend_restore(module):
    return FrontendRestore(module).run()
