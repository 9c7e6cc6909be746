"""backup_s3: backups held in S3, against moto's in-process S3 (moto.mock_aws), which keeps what PutObject stores
(the ServerSideEncryption, SSEKMSKeyId and Metadata request members of botocore/data/s3/2006-03-01/service-2.json)
and lists with ListObjectsV2 pages as S3 does."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import os
import stat

import boto3
import pytest
from moto import mock_aws

from ansible_collections.rollback.core.plugins.module_utils import backup_s3
from ansible_collections.rollback.core.plugins.module_utils.aws import AwsClient
from ansible_collections.rollback.core.plugins.module_utils.backup_s3 import S3Backups, is_s3, split_url
from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError


@pytest.fixture(scope="module")
def moto_s3():
    with mock_aws():
        yield boto3.client("s3", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")


@pytest.fixture
def s3(moto_s3):
    """A fresh bucket ``backups`` (one moto for the file: starting it is the slow part)."""
    moto_s3.create_bucket(Bucket="backups")
    yield S3Backups(AwsClient.around(moto_s3, tries=1, sleeper=lambda seconds: None)), moto_s3
    for page in moto_s3.get_paginator("list_objects_v2").paginate(Bucket="backups"):
        for found in page.get("Contents", []):
            moto_s3.delete_object(Bucket="backups", Key=found["Key"])
    moto_s3.delete_bucket(Bucket="backups")


@pytest.fixture
def dump(tmp_path):
    path = tmp_path / "app-20251112T100000Z.dump"
    path.write_bytes(b"PGDMP" + b"x" * 1000)
    return str(path)


def sha(path):
    with open(path, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()


@pytest.mark.parametrize("url,expected", [
    ("s3://backups/db/app", ("backups", "db/app")),
    ("s3://backups", ("backups", "")),
    ("s3://backups/", ("backups", "")),
])
def test_split_url(url, expected):
    assert split_url(url) == expected and is_s3(url)


@pytest.mark.parametrize("url", ["/var/backups", "s3://", "s3:///key", "S3://backups/x", None])
def test_split_url_refuses_what_is_not_an_s3_url(url):
    with pytest.raises(RollbackError, match="is not an s3://bucket/prefix URL"):
        split_url(url)


def test_url_of_keeps_the_file_name_under_the_prefix(s3):
    backups = s3[0]
    assert backups.url_of("s3://backups/db/app/", "/tmp/x/app.dump") == "s3://backups/db/app/app.dump"
    assert backups.url_of("s3://backups", "/tmp/x/app.dump") == "s3://backups/app.dump"


def test_upload_encrypts_and_records_the_sha256(s3, dump):
    backups, client = s3
    result = backups.upload(dump, "s3://backups/db", "aws:kms", "alias/backups", sha(dump))
    assert result == dict(url="s3://backups/db/%s" % os.path.basename(dump), sse="aws:kms",
                          kms_key_id="alias/backups")
    head = client.head_object(Bucket="backups", Key="db/" + os.path.basename(dump))
    assert head["Metadata"] == {"rollback-core-sha256": sha(dump)} and head["ContentLength"] == 1005
    assert backups.upload(dump, "s3://backups/aes", "AES256", None, sha(dump))["sse"] == "AES256"


def test_upload_refuses_a_directory_and_a_missing_bucket(s3, dump, tmp_path):
    with pytest.raises(RollbackError, match="is a directory dump: S3 storage takes files"):
        s3[0].upload(str(tmp_path), "s3://backups/db", "AES256", None, "x")
    with pytest.raises(RollbackError, match="^uploading .* to s3://no-such-bucket/.* failed: "):
        s3[0].upload(dump, "s3://no-such-bucket/db", "AES256", None, sha(dump))


def test_an_upload_s3_holds_short_is_refused(s3, dump, monkeypatch):
    backups = s3[0]
    call = backups.aws.call

    def short(operation, **kwargs):
        answer = call(operation, **kwargs)
        return dict(answer, ContentLength=1000) if operation == "head_object" else answer
    monkeypatch.setattr(backups.aws, "call", short)
    with pytest.raises(RollbackError, match="^s3://backups/db/app-20251112T100000Z.dump holds 1000 bytes after the "
                                            "upload, not 1005$"):
        backups.upload(dump, "s3://backups/db", "AES256", None, sha(dump))


def test_newest_picks_the_last_stamp_directly_under_the_prefix(s3):
    backups, client = s3
    for key in ("db/app-20251110T100000Z.dump", "db/app-20251112T100000Z.dump", "db/app-20251111T100000Z.dump",
                "db/old/app-20251231T100000Z.dump", "db/app-x/app-20251231T100000Z.dump",
                "db/other-20251231T100000Z.dump", "dbx/app-20251231T100000Z.dump"):
        client.put_object(Bucket="backups", Key=key, Body=b"x")
    assert backups.newest("s3://backups/db/", "app-*.dump", "dump") == "s3://backups/db/app-20251112T100000Z.dump"
    with pytest.raises(RollbackError, match="^no dump matching site-\\*.tar in s3://backups/db: nothing was changed$"):
        backups.newest("s3://backups/db", "site-*.tar", "dump")


def test_fetch_gives_a_private_copy_with_the_objects_time(s3, dump):
    backups, client = s3
    url = backups.upload(dump, "s3://backups/db", "AES256", None, sha(dump))["url"]
    path = backups.fetch(url, "dump")
    try:
        assert sha(path) == sha(dump) and stat.S_IMODE(os.stat(path).st_mode) == 0o600
        modified = client.head_object(Bucket="backups", Key="db/" + os.path.basename(dump))["LastModified"]
        assert os.stat(path).st_mtime == int(modified.timestamp())
        assert path.endswith("-" + os.path.basename(dump))
    finally:
        os.unlink(path)


def test_fetch_refuses_a_corrupt_object_and_leaves_no_file(s3, dump, monkeypatch, tmp_path):
    backups, client = s3
    client.put_object(Bucket="backups", Key="db/app.dump", Body=b"changed", Metadata={
        "rollback-core-sha256": sha(dump)})
    made = []
    real = backup_s3.tempfile.mkstemp

    def mkstemp(**kwargs):
        made.append(real(dir=str(tmp_path), **kwargs))
        return made[-1]
    monkeypatch.setattr(backup_s3.tempfile, "mkstemp", mkstemp)
    with pytest.raises(RollbackError, match="^dump s3://backups/db/app.dump does not match its sha256 .*: corrupt, "
                                            "nothing was changed$"):
        backups.fetch("s3://backups/db/app.dump", "dump")
    assert made and not os.path.exists(made[0][1])
    with pytest.raises(RollbackError, match="head_object failed: 404"):
        backups.fetch("s3://backups/db/missing.dump", "dump")


def test_an_object_without_the_sha256_is_taken_as_it_is(s3):
    backups, client = s3
    client.put_object(Bucket="backups", Key="db/app.dump", Body=b"uploaded by hand")
    path = backups.fetch("s3://backups/db/app.dump", "dump")
    with open(path, "rb") as handle:
        assert handle.read() == b"uploaded by hand"
    os.unlink(path)
