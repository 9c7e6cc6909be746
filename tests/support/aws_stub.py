"""botocore's Stubber around a client, and the collection's AwsClient over it, for unit tests.

The Stubber validates every stubbed response and the parameters of every call against botocore's service model
(botocore/data/<service>/<version>/service-2.json); leaving the block asserts every stubbed response was used.
"""

import contextlib

import boto3
from botocore.stub import Stubber


@contextlib.contextmanager
def stubbed(service, tries=1):
    """``(AwsClient, Stubber)`` for ``service``: ``tries`` attempts per call, no sleeping between them."""
    from ansible_collections.rollback.core.plugins.module_utils.aws import AwsClient

    client = boto3.client(service, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")
    with Stubber(client) as stubber:
        yield AwsClient.around(client, tries=tries, sleeper=lambda seconds: None), stubber
        stubber.assert_no_pending_responses()
