"""The sync plan by content, MD5s from ETags and metadata, listing pages and delete errors."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import boto3
import pytest
from botocore.stub import Stubber

from ansible_collections.rollback.core.plugins.module_utils.aws import AwsClient
from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError
from ansible_collections.rollback.core.plugins.module_utils.s3 import (
    MD5_METADATA, Bucket, content_type, etag_md5, is_excluded, local_tree, normalize_prefix, planned_state,
    sync_plan)

A, B, C = "0cc175b9c0f1b6a831c399e269772661", "92eb5ffee6ae2fec3ad71c777531578f", "4a8a08f09d37b73795649038408b5f33"


def entry(md5, size=1):
    return dict(md5=md5, size=size)


@pytest.mark.parametrize("given,expected", [("", ""), ("/", ""), ("site", "site/"), ("/a/b/", "a/b/")])
def test_prefixes_are_normalized(given, expected):
    assert normalize_prefix(given) == expected


@pytest.mark.parametrize("etag,md5", [
    ('"%s"' % A, A), (A.upper(), A), ('"%s-3"' % A, None), ("", None), (None, None)])
def test_only_an_md5_etag_stands_for_the_content(etag, md5):
    assert etag_md5(etag) == md5


def test_plan_uploads_new_and_changed_deletes_extra_and_keeps_the_rest():
    source = {"index.html": entry(A), "app.js": entry(B), "new.css": entry(C)}
    dest = {"index.html": entry(B), "app.js": entry(B), "old.js": entry(C)}
    plan = sync_plan(source, dest, delete=True)
    assert plan == dict(create=["new.css"], update=["index.html"], delete=["old.js"], unchanged=["app.js"],
                        excluded=[])
    assert planned_state(source, dest, plan) == {"index.html": A, "app.js": B, "new.css": C}


def test_same_md5_but_another_size_or_an_unknown_md5_is_uploaded_again():
    source = {"a": entry(A, 2), "b": entry(None)}
    dest = {"a": entry(A, 1), "b": entry(None)}
    assert sync_plan(source, dest, delete=True)["update"] == ["a", "b"]


def test_without_delete_extra_objects_stay_and_excluded_keys_are_never_touched():
    source = {"index.html": entry(A), "releases/x": entry(A)}
    dest = {"old.js": entry(C), "releases/1.0.0/index.html": entry(B), "rollback-backup/t/index.html": entry(B)}
    plan = sync_plan(source, dest, delete=False, excluded=["releases/", "rollback-backup/"])
    assert plan["create"] == ["index.html"] and plan["delete"] == [] and plan["unchanged"] == ["old.js"]
    assert plan["excluded"] == ["releases/1.0.0/index.html", "releases/x", "rollback-backup/t/index.html"]
    assert sync_plan(source, dest, delete=True, excluded=["releases/", "rollback-backup/"])["delete"] == ["old.js"]
    assert is_excluded("releases/a", ["releases/"]) and not is_excluded("release.json", ["releases/"])


def test_an_identical_tree_plans_nothing():
    tree = {"index.html": entry(A), "assets/app.js": entry(B)}
    plan = sync_plan(tree, dict(tree), delete=True)
    assert plan["create"] == plan["update"] == plan["delete"] == []


def test_local_tree_uses_slash_keys_and_content_md5(tmp_path):
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_bytes(b"a")
    (tmp_path / "assets" / "app.js").write_bytes(b"abc")
    tree = local_tree(str(tmp_path))
    assert sorted(tree) == ["assets/app.js", "index.html"]
    assert tree["index.html"]["md5"] == A and tree["assets/app.js"]["size"] == 3


def test_content_types_follow_the_file_name():
    assert content_type("index.html") == "text/html"
    assert content_type("assets/app.css") == "text/css"
    assert content_type("LICENSE") == "application/octet-stream"


def stubbed():
    client = boto3.client("s3", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")
    s3 = AwsClient.__new__(AwsClient)
    s3.client, s3.tries, s3.sleeper = client, 4, lambda seconds: None
    return s3, Stubber(client)


def test_listing_follows_pages_and_reads_md5_metadata_for_multipart_etags():
    s3, stub = stubbed()
    stub.add_response("list_objects_v2", dict(IsTruncated=True, NextContinuationToken="t", Contents=[
        dict(Key="site/index.html", ETag='"%s"' % A, Size=1), dict(Key="site/assets/", Size=0)]),
        dict(Bucket="b", Prefix="site/"))
    stub.add_response("list_objects_v2", dict(IsTruncated=False, Contents=[
        dict(Key="site/big.js", ETag='"%s-2"' % B, Size=9), dict(Key="site/kms.js", ETag='"ffff-1"', Size=3)]),
        dict(Bucket="b", Prefix="site/", ContinuationToken="t"))
    stub.add_response("head_object", dict(Metadata={MD5_METADATA: B}), dict(Bucket="b", Key="site/big.js"))
    stub.add_response("head_object", dict(Metadata={}), dict(Bucket="b", Key="site/kms.js"))
    bucket = Bucket(s3, "b")
    with stub:
        objects = bucket.list("site/")
        for key in ("big.js", "kms.js"):  # one HEAD at a time keeps the stub's order
            bucket.fill_md5({key: objects[key]}, "site/")
    assert sorted(objects) == ["big.js", "index.html", "kms.js"]
    assert (objects["index.html"]["md5"], objects["big.js"]["md5"], objects["kms.js"]["md5"]) == (A, B, None)


def test_a_missing_bucket_is_one_line():
    s3, stub = stubbed()
    stub.add_client_error("get_bucket_versioning", "NoSuchBucket", "The specified bucket does not exist")
    with stub, pytest.raises(RollbackError, match="^bucket site not found$"):
        Bucket(s3, "site").versioning()


def test_delete_errors_are_reported_not_ignored():
    s3, stub = stubbed()
    stub.add_response("delete_objects", dict(Errors=[dict(Key="a", Code="AccessDenied", Message="Access Denied")]))
    with stub, pytest.raises(RollbackError, match="delete_objects failed for 1 key.* first a: AccessDenied"):
        Bucket(s3, "site").delete(["a", "b"])
