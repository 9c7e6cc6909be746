# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""S3 as a static site's origin: list a tree, plan a sync by content, copy, upload, delete.

Objects are compared by size and MD5. The MD5 of an S3 object is its ETag when
the ETag is one (single-part upload, no KMS); objects this module uploads also
carry it in the metadata ``rollback-core-md5`` so buckets with KMS encryption
compare as well. An object whose MD5 cannot be known is treated as changed.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import hashlib
import mimetypes
import os
import re
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError

MD5_METADATA = "rollback-core-md5"
MD5_ETAG = re.compile(r"^[0-9a-f]{32}$")
BUCKET_NOT_FOUND = ("NoSuchBucket",)
KEY_NOT_FOUND = ("NoSuchKey", "404")
DELETE_BATCH = 1000
WORKERS = 8


# --- pure functions ------------------------------------------------------------------------------------------------

def normalize_prefix(prefix):
    """``""`` or ``a/b/``: no leading slash, one trailing slash."""
    prefix = (prefix or "").strip("/")
    return prefix + "/" if prefix else ""


def etag_md5(etag):
    """The MD5 an ETag stands for, or None (multipart or KMS ETags are not MD5s)."""
    value = (etag or "").strip('"').lower()
    return value if MD5_ETAG.match(value) else None


def is_excluded(key, prefixes):
    return any(key.startswith(prefix) for prefix in prefixes)


def sync_plan(source, dest, delete, excluded=()):
    """What makes ``dest`` equal ``source``; both map relative keys to ``{"md5", "size"}``.

    Keys under ``excluded`` prefixes are never written or deleted. An unknown MD5 (None) counts as different.
    """
    plan = dict(create=[], update=[], delete=[], unchanged=[], excluded=[])
    for key in sorted(source):
        if is_excluded(key, excluded):
            plan["excluded"].append(key)
        elif key not in dest:
            plan["create"].append(key)
        elif (source[key]["md5"] is None or source[key]["md5"] != dest[key]["md5"]
              or source[key]["size"] != dest[key]["size"]):
            plan["update"].append(key)
        else:
            plan["unchanged"].append(key)
    for key in sorted(set(dest) - set(source)):
        if is_excluded(key, excluded):
            plan["excluded"].append(key)
        elif delete:
            plan["delete"].append(key)
        else:
            plan["unchanged"].append(key)
    plan["excluded"].sort()
    return plan


def planned_state(source, dest, plan):
    """``{key: md5}`` of the destination once ``plan`` is applied (excluded keys as they are)."""
    deleted = set(plan["delete"])
    after = dict((key, dest[key]["md5"]) for key in dest if key not in deleted)
    for key in plan["create"] + plan["update"]:
        after[key] = source[key]["md5"]
    return after


def new_md5():
    """An MD5 for content comparison (not security), also where FIPS forbids MD5 for security."""
    try:
        return hashlib.md5(usedforsecurity=False)
    except TypeError:
        return hashlib.md5()


def bytes_md5(data):
    digest = new_md5()
    digest.update(data)
    return digest.hexdigest()


def file_md5(path):
    digest = new_md5()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1024 * 1024), b""):
            digest.update(block)
    return digest.hexdigest()


def local_tree(root):
    """``{relative key: {"md5", "size", "path"}}`` of the files under ``root`` (keys use ``/``)."""
    tree = {}
    for directory, subdirectories, files in os.walk(root):
        subdirectories.sort()
        for name in sorted(files):
            path = os.path.join(directory, name)
            if not os.path.isfile(path):
                continue
            key = os.path.relpath(path, root).replace(os.sep, "/")
            tree[key] = dict(md5=file_md5(path), size=os.path.getsize(path), path=path)
    return tree


def content_type(key):
    return mimetypes.guess_type(key)[0] or "application/octet-stream"


def parallel(function, items):
    """``function`` over ``items`` on a few threads (boto3 clients are thread-safe); the first error is raised."""
    items = list(items)
    if not items:
        return []
    with ThreadPoolExecutor(max_workers=min(WORKERS, len(items))) as pool:
        return list(pool.map(function, items))


# --- S3 calls ------------------------------------------------------------------------------------------------------

class Bucket:
    """One bucket through the shared AwsClient (retries throttling, one error line)."""

    def __init__(self, s3, name):
        self.s3 = s3
        self.name = name

    def versioning(self):
        """"Enabled", "Suspended" or None; fails with one line when the bucket does not exist."""
        found = self.s3.not_found("get_bucket_versioning", BUCKET_NOT_FOUND, Bucket=self.name)
        if found is None:
            raise RollbackError("bucket %s not found" % self.name)
        return found.get("Status")

    def list(self, prefix):
        """``{key relative to prefix: {"md5", "size", "etag", "last_modified"}}`` of every object under ``prefix``."""
        objects, token = {}, None
        while True:
            arguments = dict(Bucket=self.name, Prefix=prefix)
            if token:
                arguments["ContinuationToken"] = token
            page = self.s3.call("list_objects_v2", **arguments)
            for item in page.get("Contents", []):
                if item["Key"].endswith("/") and not item.get("Size"):
                    continue  # a console "folder" marker
                objects[item["Key"][len(prefix):]] = dict(
                    md5=etag_md5(item.get("ETag")), size=item.get("Size", 0), etag=(item.get("ETag") or "").strip('"'),
                    last_modified=item.get("LastModified"))
            token = page.get("NextContinuationToken")
            if not page.get("IsTruncated") or not token:
                return objects

    def fill_md5(self, objects, prefix):
        """Read the MD5 metadata of objects whose ETag is not an MD5 (one HEAD each)."""
        unknown = [key for key, item in objects.items() if item["md5"] is None]

        def head(key):
            found = self.s3.call("head_object", Bucket=self.name, Key=prefix + key)
            return key, (found.get("Metadata") or {}).get(MD5_METADATA)

        for key, md5 in parallel(head, unknown):
            objects[key]["md5"] = md5
        return objects

    def read(self, key):
        """The object's bytes, or None when it does not exist."""
        found = self.s3.not_found("get_object", KEY_NOT_FOUND, Bucket=self.name, Key=key)
        return None if found is None else found["Body"].read()

    def upload(self, key, path, md5):
        with open(path, "rb") as handle:
            self.s3.call("put_object", Bucket=self.name, Key=key, Body=handle, ContentType=content_type(key),
                         ContentMD5=base64.b64encode(bytes.fromhex(md5)).decode("ascii"),
                         Metadata={MD5_METADATA: md5})

    def copy_from(self, source_bucket, source_key, key):
        """Server-side copy, keeping the source's content type and metadata."""
        self.s3.call("copy_object", Bucket=self.name, Key=key, CopySource=dict(Bucket=source_bucket, Key=source_key),
                     MetadataDirective="COPY")

    def delete(self, keys):
        for start in range(0, len(keys), DELETE_BATCH):
            batch = keys[start:start + DELETE_BATCH]
            found = self.s3.call("delete_objects", Bucket=self.name,
                                 Delete=dict(Objects=[dict(Key=key) for key in batch], Quiet=True))
            errors = found.get("Errors") or []
            if errors:
                raise RollbackError("delete_objects failed for %d key(s) of %s, first %s: %s %s" % (
                    len(errors), self.name, errors[0].get("Key"), errors[0].get("Code"), errors[0].get("Message")))
