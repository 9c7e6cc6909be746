"""AWS helpers for integration tests: lab clients, module arguments, and a moto server that checks credentials.

The lab's shared moto server accepts any access key. Wrong credentials can only be shown by a second moto
server started with IAM authentication on (``INITIAL_NO_AUTH_ACTION_COUNT=0``): every key it does not know is
refused as AWS refuses it (InvalidClientTokenId, InvalidAccessKeyId).
"""

import os
import subprocess
import time
import urllib.request

import boto3

from support.http_servers import free_port

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def client(lab, service):
    return boto3.client(service, endpoint_url=lab["LAB_AWS_ENDPOINT"], region_name=lab["LAB_AWS_REGION"],
                        aws_access_key_id=lab["LAB_AWS_ACCESS_KEY_ID"],
                        aws_secret_access_key=lab["LAB_AWS_SECRET_ACCESS_KEY"])


def module_args(lab, **extra):
    """The AWS connection options of a module run against the lab's moto, plus ``extra``."""
    base = dict(region=lab["LAB_AWS_REGION"], endpoint_url=lab["LAB_AWS_ENDPOINT"],
                access_key=lab["LAB_AWS_ACCESS_KEY_ID"], secret_key=lab["LAB_AWS_SECRET_ACCESS_KEY"], wait_sleep=0.2)
    base.update(extra)
    return base


class AuthenticatingMoto:
    """A private moto server on a free loopback port that refuses unknown credentials."""

    def __init__(self):
        self.port = free_port()
        self.endpoint = "http://127.0.0.1:%d" % self.port
        env = dict(os.environ, INITIAL_NO_AUTH_ACTION_COUNT="0")
        self.process = subprocess.Popen([os.path.join(REPO, ".venv", "bin", "moto_server"), "-H", "127.0.0.1",
                                         "-p", str(self.port)], env=env, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        for _attempt in range(200):
            try:
                urllib.request.urlopen(self.endpoint + "/moto-api/", timeout=2)
                return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("moto server with authentication did not start on port %d" % self.port)

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=30)


def empty_bucket(s3, bucket):
    """Delete every object version and delete marker, then the bucket."""
    paginator = s3.get_paginator("list_object_versions")
    for page in paginator.paginate(Bucket=bucket):
        objects = [dict(Key=item["Key"], VersionId=item["VersionId"])
                   for item in page.get("Versions", []) + page.get("DeleteMarkers", [])]
        if objects:
            s3.delete_objects(Bucket=bucket, Delete=dict(Objects=objects, Quiet=True))
    s3.delete_bucket(Bucket=bucket)


def s3_distribution(cloudfront, bucket, reference):
    """A CloudFront distribution with ``bucket`` as its only origin; returns its id."""
    config = dict(
        CallerReference=reference, Comment="rollback.core test " + reference, Enabled=True,
        DefaultRootObject="index.html",
        Origins=dict(Quantity=1, Items=[dict(Id="site", DomainName=bucket + ".s3.us-east-1.amazonaws.com",
                                             S3OriginConfig=dict(OriginAccessIdentity=""))]),
        DefaultCacheBehavior=dict(TargetOriginId="site", ViewerProtocolPolicy="redirect-to-https", MinTTL=0,
                                  ForwardedValues=dict(QueryString=False, Cookies=dict(Forward="none")),
                                  TrustedSigners=dict(Enabled=False, Quantity=0)))
    return cloudfront.create_distribution(DistributionConfig=config)["Distribution"]["Id"]


def delete_distribution(cloudfront, distribution_id):
    found = cloudfront.get_distribution_config(Id=distribution_id)
    config = dict(found["DistributionConfig"], Enabled=False)
    etag = cloudfront.update_distribution(Id=distribution_id, DistributionConfig=config, IfMatch=found["ETag"])["ETag"]
    cloudfront.delete_distribution(Id=distribution_id, IfMatch=etag)


class Edge:
    """A stand-in for the CDN edge (CloudFront cannot serve locally): GET /<key> answers with the object of the
    bucket, or with ``stale`` bytes for every path when given (an edge still caching the old build)."""

    def __init__(self, lab, bucket, stale=None):
        from http.server import BaseHTTPRequestHandler

        from support.http_servers import _Background

        s3 = client(lab, "s3")

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                key = self.path.lstrip("/") or "index.html"
                try:
                    body = stale if stale is not None else s3.get_object(Bucket=bucket, Key=key)["Body"].read()
                    status = 200
                except s3.exceptions.NoSuchKey:
                    body, status = b"not found", 404
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.background = _Background(Handler)
        self.url = self.background.url

    def stop(self):
        self.background.stop()
