"""Whether a distribution's cache may be older than its bucket, its origins, and the invalidation wait."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime

import boto3
import pytest
from botocore.stub import Stubber

from ansible_collections.rollback.core.plugins.module_utils.aws import AwsClient
from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError
from ansible_collections.rollback.core.plugins.module_utils.cloudfront import (
    Distribution, cache_may_be_stale, is_completed, serves_bucket)

T0 = datetime.datetime(2026, 1, 18, 10, 0, tzinfo=datetime.timezone.utc)


@pytest.mark.parametrize("newest,last,stale", [
    (None, None, False), (T0, None, True), (T0, T0, False), (T0 + datetime.timedelta(seconds=1), T0, False),
    (T0 + datetime.timedelta(seconds=2), T0, True), (T0, T0 + datetime.timedelta(seconds=1), False)])
def test_cache_is_stale_when_an_object_changed_after_the_last_invalidation(newest, last, stale):
    assert cache_may_be_stale(newest, last) is stale


def test_origins_in_the_bucket_are_recognised():
    distribution = dict(DistributionConfig=dict(Origins=dict(Items=[dict(DomainName="ui.s3.eu-west-1.amazonaws.com")])))
    assert serves_bucket(distribution, "ui") and not serves_bucket(distribution, "u")
    assert serves_bucket(dict(DistributionConfig=dict(Origins=dict(Items=[dict(
        DomainName="ui.s3-website-us-east-1.amazonaws.com")]))), "ui")


def test_completed_in_any_case():
    assert is_completed("Completed") and is_completed("COMPLETED") and not is_completed("InProgress")


def stubbed():
    client = boto3.client("cloudfront", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")
    cloudfront = AwsClient.__new__(AwsClient)
    cloudfront.client, cloudfront.tries, cloudfront.sleeper = client, 4, lambda seconds: None
    return cloudfront, Stubber(client)


def test_unknown_distribution_is_one_line():
    cloudfront, stub = stubbed()
    stub.add_client_error("get_distribution", "NoSuchDistribution", "The specified distribution does not exist.")
    with stub, pytest.raises(RollbackError, match="^CloudFront distribution E1 not found$"):
        Distribution(cloudfront, "E1").describe()


def test_last_invalidation_is_the_newest_listed():
    cloudfront, stub = stubbed()
    items = [dict(Id="I%d" % i, CreateTime=T0 + datetime.timedelta(minutes=i), Status="Completed") for i in (2, 5, 1)]
    stub.add_response("list_invalidations", dict(InvalidationList=dict(
        Marker="", MaxItems=100, IsTruncated=False, Quantity=3, Items=items)))
    with stub:
        assert Distribution(cloudfront, "E1").last_invalidation() == T0 + datetime.timedelta(minutes=5)
