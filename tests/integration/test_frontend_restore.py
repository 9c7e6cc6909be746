"""frontend_restore through Ansible against the lab's moto server (S3 and CloudFront).

moto keeps S3 objects, ETags, versioning and server-side copies as S3 does; its CloudFront accepts
invalidations and reports them Completed at once, and serves nothing: the CDN edge is a local stand-in that
reads the bucket (support.aws.Edge).
"""

import hashlib
import mimetypes
import os
import time
import uuid

import pytest
from support.aws import (AuthenticatingMoto, Edge, client, delete_distribution, empty_bucket, module_args,
                         s3_distribution)

BUILDS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "files", "frontend")
GOOD, BAD = os.path.join(BUILDS, "1.0.0"), os.path.join(BUILDS, "1.0.1")


def build_tree(root):
    tree = {}
    for directory, _subdirectories, files in os.walk(root):
        for name in files:
            path = os.path.join(directory, name)
            with open(path, "rb") as handle:
                tree[os.path.relpath(path, root).replace(os.sep, "/")] = hashlib.md5(handle.read()).hexdigest()
    return tree


def md5_of(path):
    with open(path, "rb") as handle:
        return hashlib.md5(handle.read()).hexdigest()


def upload_build(s3, bucket, root, prefix=""):
    """What a CI deploy does: put every file of the build under ``prefix``."""
    for key in build_tree(root):
        with open(os.path.join(root, key), "rb") as handle:
            s3.put_object(Bucket=bucket, Key=prefix + key, Body=handle.read(),
                          ContentType=mimetypes.guess_type(key)[0] or "application/octet-stream")


def bucket_tree(s3, bucket, prefix="", skip=()):
    """``{key relative to prefix: MD5 of the content}``, read back object by object."""
    tree = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            relative = item["Key"][len(prefix):]
            if not any(relative.startswith(other) for other in skip):
                body = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
                tree[relative] = hashlib.md5(body).hexdigest()
    return tree


def invalidations(cloudfront, distribution_id):
    return cloudfront.list_invalidations(DistributionId=distribution_id)["InvalidationList"]["Quantity"]


@pytest.fixture
def s3(lab):
    return client(lab, "s3")


@pytest.fixture
def cloudfront(lab):
    return client(lab, "cloudfront")


@pytest.fixture
def site(s3, cloudfront):
    """A site bucket serving the bad build 1.0.1 behind a CloudFront distribution."""
    suffix = uuid.uuid4().hex[:8]
    bucket = "ui-" + suffix
    s3.create_bucket(Bucket=bucket)
    upload_build(s3, bucket, BAD)
    distribution_id = s3_distribution(cloudfront, bucket, suffix)
    buckets = [bucket]
    yield dict(bucket=bucket, distribution_id=distribution_id, suffix=suffix, buckets=buckets)
    delete_distribution(cloudfront, distribution_id)
    for name in buckets:
        empty_bucket(s3, name)


def test_local_build_is_restored_backed_up_invalidated_and_verified(ansible_module, lab, s3, cloudfront, site):
    bucket, distribution_id = site["bucket"], site["distribution_id"]
    arguments = module_args(lab, bucket=bucket, src=GOOD, distribution_id=distribution_id)
    check = ansible_module("frontend_restore", arguments, check=True, diff=True)
    assert not check.failed and check.result["changed"] is True, check.stdout
    assert check.result["uploaded"] == ["assets/app.8d2e.js", "index.html", "robots.txt"]
    assert check.result["deleted"] == ["assets/app.51b7.js", "assets/feature.c0de.js"]
    assert check.result["unchanged"] == 1
    assert check.result["invalidation"]["status"] == "planned"
    assert check.result["backup"]["prefix"].startswith("rollback-backup/")
    diff = check.stdout.split("localhost | ")[0]
    assert '-        "assets/feature.c0de.js": "%s"' % md5_of(os.path.join(BAD, "assets/feature.c0de.js")) in diff
    assert '+        "index.html": "%s"' % md5_of(os.path.join(GOOD, "index.html")) in diff
    assert bucket_tree(s3, bucket) == build_tree(BAD)
    assert invalidations(cloudfront, distribution_id) == 0

    run = ansible_module("frontend_restore", arguments)
    assert not run.failed and run.result["changed"] is True, run.stdout
    result = run.result
    backup = result["backup"]
    assert backup["bucket"] == bucket and backup["objects"] == len(build_tree(BAD))
    assert bucket_tree(s3, bucket, skip=["rollback-backup/"]) == build_tree(GOOD)
    assert bucket_tree(s3, bucket, prefix=backup["prefix"]) == build_tree(BAD), "the bad build is kept"
    assert result["excluded_prefixes"] == ["rollback-backup/"]
    invalidation = cloudfront.get_invalidation(DistributionId=distribution_id, Id=result["invalidation"]["id"])
    assert invalidation["Invalidation"]["InvalidationBatch"]["Paths"]["Items"] == ["/*"]
    assert result["invalidation"]["status"].lower() == "completed"
    assert result["served_index_etag"] == dict(before=md5_of(os.path.join(BAD, "index.html")),
                                               after=md5_of(os.path.join(GOOD, "index.html")))
    assert result["verified"]["md5"] == md5_of(os.path.join(GOOD, "index.html"))
    assert s3.head_object(Bucket=bucket, Key="index.html")["ContentType"] == "text/html"

    keys = sorted(item["Key"] for item in s3.list_objects_v2(Bucket=bucket)["Contents"])
    again = ansible_module("frontend_restore", arguments)
    assert not again.failed and again.result["changed"] is False, again.stdout
    assert again.result["uploaded"] == [] and again.result["deleted"] == []
    assert again.result["invalidation"] is None and again.result["backup"] is None
    assert invalidations(cloudfront, distribution_id) == 1
    assert sorted(item["Key"] for item in s3.list_objects_v2(Bucket=bucket)["Contents"]) == keys

    forward = ansible_module("frontend_restore", module_args(lab, bucket=bucket, source_prefix=backup["prefix"],
                                                             distribution_id=distribution_id))
    assert not forward.failed and forward.result["changed"] is True, forward.stdout
    assert bucket_tree(s3, bucket, skip=["rollback-backup/"]) == build_tree(BAD), "the backup restores as a build"


def test_kept_release_in_s3_is_copied_server_side_and_versioning_replaces_the_backup(ansible_module, lab, s3, site):
    bucket, releases = site["bucket"], "releases-" + site["suffix"]
    site["buckets"].append(releases)
    s3.create_bucket(Bucket=releases)
    upload_build(s3, releases, GOOD, prefix="ui/1.0.0/")
    upload_build(s3, releases, BAD, prefix="ui/1.0.1/")
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration=dict(Status="Enabled"))
    arguments = module_args(lab, bucket=bucket, source_bucket=releases, source_prefix="ui/1.0.0")
    run = ansible_module("frontend_restore", arguments)
    assert not run.failed and run.result["changed"] is True, run.stdout
    assert run.result["source"] == dict(type="s3", bucket=releases, prefix="ui/1.0.0/")
    assert run.result["backup"]["versioning"] == "Enabled" and run.result["backup"]["prefix"] is None
    assert bucket_tree(s3, bucket) == build_tree(GOOD), "no backup copies in a versioned bucket"
    versions = s3.list_object_versions(Bucket=bucket, Prefix="index.html")["Versions"]
    assert len(versions) == 2, "the bad index.html is kept as a previous version"
    assert s3.head_object(Bucket=bucket, Key="assets/app.8d2e.js")["ContentType"] == "text/javascript"
    assert run.result["invalidation"] is None

    again = ansible_module("frontend_restore", arguments)
    assert not again.failed and again.result["changed"] is False and again.result["uploaded"] == []


def test_kept_releases_in_the_site_bucket_stay(ansible_module, lab, s3, site):
    bucket = site["bucket"]
    upload_build(s3, bucket, GOOD, prefix="releases/1.0.0/")
    upload_build(s3, bucket, BAD, prefix="releases/1.0.1/")
    run = ansible_module("frontend_restore", module_args(lab, bucket=bucket, source_prefix="releases/1.0.0/",
                                                         exclude=["status/"]))
    assert not run.failed and run.result["changed"] is True, run.stdout
    assert run.result["excluded_prefixes"] == ["releases/", "rollback-backup/", "status/"]
    assert bucket_tree(s3, bucket, skip=["releases/", "rollback-backup/"]) == build_tree(GOOD)
    assert bucket_tree(s3, bucket, prefix="releases/1.0.1/") == build_tree(BAD)
    assert bucket_tree(s3, bucket, prefix="releases/1.0.0/") == build_tree(GOOD)


def test_a_sync_whose_invalidation_was_lost_is_invalidated_on_the_next_run(
        ansible_module, lab, s3, cloudfront, site):
    bucket, distribution_id = site["bucket"], site["distribution_id"]
    for key in build_tree(BAD):
        s3.delete_object(Bucket=bucket, Key=key)
    upload_build(s3, bucket, GOOD)  # synced by a run that failed before invalidating
    arguments = module_args(lab, bucket=bucket, src=GOOD, distribution_id=distribution_id)
    run = ansible_module("frontend_restore", arguments)
    assert not run.failed and run.result["changed"] is True, run.stdout
    assert run.result["uploaded"] == [] and run.result["backup"] is None
    assert run.result["invalidation"]["id"] and invalidations(cloudfront, distribution_id) == 1
    time.sleep(1.1)  # S3 LastModified has second precision
    again = ansible_module("frontend_restore", arguments)
    assert not again.failed and again.result["changed"] is False
    assert invalidations(cloudfront, distribution_id) == 1


def test_verify_url_must_serve_the_restored_index(ansible_module, lab, s3, site):
    bucket = site["bucket"]
    edge = Edge(lab, bucket)
    try:
        run = ansible_module("frontend_restore", module_args(lab, bucket=bucket, src=GOOD, verify_url=edge.url + "/"))
    finally:
        edge.stop()
    assert not run.failed, run.stdout
    assert run.result["verified"]["url"] == edge.url + "/"

    with open(os.path.join(BAD, "index.html"), "rb") as handle:
        stale = Edge(lab, bucket, stale=handle.read())
    try:
        run = ansible_module("frontend_restore", module_args(lab, bucket=bucket, src=GOOD, verify_url=stale.url + "/",
                                                             wait_timeout=1))
    finally:
        stale.stop()
    assert run.failed
    assert run.result["msg"].startswith("timed out after 1s waiting for %s/ to serve the restored index.html: "
                                        "status 200, MD5 %s, expected %s" % (
                                            stale.url, md5_of(os.path.join(BAD, "index.html")),
                                            md5_of(os.path.join(GOOD, "index.html"))))


def site_state(lab, bucket, distribution_id):
    """The site as a call left it (module_batch.py records it after each call): every object of its bucket, backups
    included, and the distribution's invalidations."""
    return dict(tree=bucket_tree(client(lab, "s3"), bucket),
                invalidations=invalidations(client(lab, "cloudfront"), distribution_id))


def test_bad_input_changes_nothing(module_batch, lab, s3, cloudfront, site, tmp_path):
    bucket, distribution_id = site["bucket"], site["distribution_id"]
    untouched = site_state(lab, bucket, distribution_id)
    assert untouched == dict(tree=build_tree(BAD), invalidations=0)
    empty = tmp_path / "dist"
    empty.mkdir()
    no_index = tmp_path / "no-index"
    (no_index / "assets").mkdir(parents=True)
    (no_index / "assets" / "app.js").write_text("x")
    missing = "nope-" + site["suffix"]
    cases = [
        (dict(bucket=missing, src=GOOD), "bucket %s not found" % missing),
        (dict(bucket=bucket, src=str(tmp_path / "absent")), "src %s is not a directory" % (tmp_path / "absent")),
        (dict(bucket=bucket, src=str(empty)),
         "source %s has no files: refusing to sync an empty build (with delete it would wipe the site)" % empty),
        (dict(bucket=bucket, source_prefix="releases/9.9.9/"),
         "source s3://%s/releases/9.9.9/ has no files: refusing to sync an empty build" % bucket),
        (dict(bucket=bucket, source_bucket=missing, source_prefix="ui/"), "bucket %s not found" % missing),
        (dict(bucket=bucket, src=str(no_index)), "verify_key index.html is not in the source %s" % no_index),
        (dict(bucket=bucket, src=GOOD, distribution_id="ENOPE0000"), "CloudFront distribution ENOPE0000 not found"),
        (dict(bucket=bucket, src=GOOD, backup_bucket=missing), "bucket %s not found" % missing),
        (dict(bucket=bucket, source_prefix="/"), "source_prefix (bucket root) is the site itself or contains it"),
        (dict(bucket=bucket, prefix="rollback-backup/site", src=GOOD),
         "backup_prefix rollback-backup/ contains the site prefix rollback-backup/site/"),
        (dict(bucket=bucket, src=GOOD, source_prefix="x/"), "parameters are mutually exclusive: src|source_prefix"),
        (dict(bucket=bucket), "one of the following is required: src, source_prefix"),
    ]
    calls = [("frontend_restore", module_args(lab, distribution_id=distribution_id, **extra)
              if "distribution_id" not in extra else module_args(lab, **extra)) for extra, _message in cases]
    runs = module_batch(calls, state=(site_state, dict(bucket=bucket, distribution_id=distribution_id)))
    for (extra, message), run in zip(cases, runs):
        assert run.failed and message in run.result["msg"], (extra, run.result.get("msg"))
        assert "\n" not in run.result["msg"]
        assert run.state == untouched, extra  # each case alone: nothing synced, backed up or invalidated


def test_wrong_credentials_are_one_line(ansible_module, lab):
    server = AuthenticatingMoto()
    try:
        run = ansible_module("frontend_restore", module_args(lab, endpoint_url=server.endpoint, access_key="AKIAWRONG",
                                                             secret_key="wrong", bucket="ui", src=GOOD))
    finally:
        server.stop()
    assert run.failed
    assert run.result["msg"] == ("get_bucket_versioning failed: InvalidAccessKeyId: The AWS Access Key Id you "
                                 "provided does not exist in our records.")
