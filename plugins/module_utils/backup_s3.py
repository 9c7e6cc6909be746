# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Backups held in S3: ``s3://bucket/prefix/<file name>``, written by rollback.core.backup, read by the restores.

A backup keeps its file name in S3 (the name the restore's pattern picks as newest), under a prefix the user
chooses per service or database, so an S3 lifecycle rule on that prefix can expire or archive old ones.
Objects are written with server-side encryption (``ServerSideEncryption`` ``AES256`` or ``aws:kms`` with an
optional ``SSEKMSKeyId``: the PutObject request members of botocore/data/s3/2006-03-01/service-2.json, which
boto3's upload_file passes through ``ExtraArgs``, boto3/s3/transfer.py S3Transfer.ALLOWED_UPLOAD_ARGS) and the
file's sha256 in the metadata ``rollback-core-sha256``; a restore fetches the object to a 0600 temporary file,
checks the sha256 and gives the restore that file, with the object's time as the backup's time.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import calendar
import os
import tempfile

from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError
from ansible_collections.rollback.core.plugins.module_utils.restore_points import digest

SHA_METADATA = "rollback-core-sha256"
SSE_CHOICES = ("AES256", "aws:kms")


def is_s3(value):
    return isinstance(value, str) and value.startswith("s3://")


def split_url(url):
    """``(bucket, key)`` of ``s3://bucket/key``; one clear error for anything else."""
    bucket, _sep, key = url[len("s3://"):].partition("/") if is_s3(url) else ("", "", "")
    if not bucket:
        raise RollbackError("%r is not an s3://bucket/prefix URL" % (url,))
    return bucket, key


class S3Backups:
    """Upload, find and fetch backups through one AwsClient (aws.py: retries, errors as RollbackError)."""

    def __init__(self, aws):
        self.aws = aws

    @classmethod
    def from_params(cls, params):
        from ansible_collections.rollback.core.plugins.module_utils.aws import BOTO3_IMPORT_ERROR, AwsClient
        if BOTO3_IMPORT_ERROR is not None:
            raise RollbackError("boto3 is required for s3:// backups (pip install boto3)")
        return cls(AwsClient(params, "s3"))

    def url_of(self, storage, path):
        bucket, prefix = split_url(storage)
        prefix = prefix.strip("/")
        return "s3://%s/%s" % (bucket, (prefix + "/" if prefix else "") + os.path.basename(path))

    def upload(self, path, storage, sse, kms_key_id, sha256):
        """Put the file ``path`` under ``storage`` with its name; return ``{url, sse, kms_key_id}`` as S3 reports."""
        if os.path.isdir(path):
            raise RollbackError("%s is a directory dump: S3 storage takes files (dump_format custom)" % path)
        url = self.url_of(storage, path)
        bucket, key = split_url(url)
        extra = dict(ServerSideEncryption=sse, Metadata={SHA_METADATA: sha256})
        if kms_key_id:  # with sse aws:kms (backup_take refuses it otherwise, before the backup is taken)
            extra["SSEKMSKeyId"] = kms_key_id
        from boto3.exceptions import S3UploadFailedError
        try:
            self.aws.call("upload_file", Filename=path, Bucket=bucket, Key=key, ExtraArgs=extra)
        except S3UploadFailedError as error:
            raise RollbackError("uploading %s to %s failed: %s" % (path, url, error))
        head = self.aws.call("head_object", Bucket=bucket, Key=key)
        if head.get("ContentLength") != os.path.getsize(path):
            raise RollbackError("%s holds %s bytes after the upload, not %d" % (
                url, head.get("ContentLength"), os.path.getsize(path)))
        return dict(url=url, sse=head.get("ServerSideEncryption"), kms_key_id=head.get("SSEKMSKeyId"))

    def newest(self, directory, pattern, what):
        """The URL of the newest object directly under ``directory`` whose name matches ``pattern``."""
        from ansible_collections.rollback.core.plugins.module_utils.backups import newest_name
        bucket, prefix = split_url(directory)
        prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        names = [found["Key"][len(prefix):] for found in self.aws.paginate(
            "list_objects_v2", "Contents", Bucket=bucket, Prefix=prefix)]
        newest = newest_name([name for name in names if "/" not in name], pattern)
        if newest is None:
            raise RollbackError("no %s matching %s in %s: nothing was changed" % (what, pattern, directory))
        return "s3://%s/%s%s" % (bucket, prefix, newest)

    def fetch(self, url, what):
        """Download ``url`` to a 0600 temporary file (sha256 checked); its path, with the object's time."""
        bucket, key = split_url(url)
        head = self.aws.call("head_object", Bucket=bucket, Key=key)
        handle, path = tempfile.mkstemp(prefix=".rollback-core-", suffix="-" + os.path.basename(key))
        os.close(handle)
        try:
            # Into the 0600 file itself: download_file writes a temporary file of its own and renames it over
            # ``path`` (s3transfer/download.py DownloadFilenameOutputManager), which leaves it with the umask's mode.
            with open(path, "wb") as stream:
                self.aws.call("download_fileobj", Bucket=bucket, Key=key, Fileobj=stream)
            expected = (head.get("Metadata") or {}).get(SHA_METADATA)
            if expected and digest(path)[1] != expected:
                raise RollbackError("%s %s does not match its sha256 (%s): corrupt, nothing was changed" % (
                    what, url, expected))
            moment = calendar.timegm(head["LastModified"].utctimetuple())
            os.utime(path, (moment, moment))
        except Exception:
            os.unlink(path)
            raise
        return path
