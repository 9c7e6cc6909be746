# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""AWS connection options, a boto3 client factory and the one AWS error path.

Every API call goes through ``AwsClient.call``: throttling is retried with
jittered backoff (retry.py), and so are the codes a caller names as "not now"
(``retry_codes``: a resource in a state that refuses the call for a while, as
amazon.aws's rds module_utils retries InvalidDBInstanceState); anything else
becomes one RollbackError that names the operation, the AWS error code and its
message.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import functools
import traceback

from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError
from ansible_collections.rollback.core.plugins.module_utils import connection_specs
from ansible_collections.rollback.core.plugins.module_utils.retry import retry_call

try:
    import boto3
    import botocore.config
    from botocore.exceptions import BotoCoreError, ClientError
except ImportError:
    BOTO3_IMPORT_ERROR = traceback.format_exc()
else:
    BOTO3_IMPORT_ERROR = None


AWS_CONNECTION_SPEC = connection_specs.AWS_CONNECTION_SPEC  # spec kept apart from the client library

THROTTLING_CODES = frozenset([
    "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottledException", "TooManyRequestsException",
    "RequestLimitExceeded", "ProvisionedThroughputExceededException", "TransactionInProgressException",
    "RequestThrottled", "SlowDown", "PriorRequestNotComplete", "EC2ThrottledException",
])


def error_code(error):
    return error.response.get("Error", {}).get("Code", "") if isinstance(error, ClientError) else ""


def is_throttling(error):
    return error_code(error) in THROTTLING_CODES


class AwsClient:
    """One boto3 client whose calls retry throttling and fail as RollbackError."""

    tries = 6
    sleeper = None
    # A resource busy with another change (backing up, modifying) refuses calls for minutes, not seconds.
    state_tries, state_cap = 10, 60.0

    def __init__(self, params, service, tries=6, sleeper=None):
        if bool(params.get("access_key")) != bool(params.get("secret_key")):
            raise RollbackError("access_key and secret_key must be given together")
        # total_max_attempts 1: one HTTP request per try; the retries are ours (jittered, counted). botocore's
        # max_attempts counts retries after the first request (botocore/config.py), so 1 there meant 2 requests.
        try:
            session = boto3.session.Session(profile_name=params.get("profile"),
                                            aws_access_key_id=params.get("access_key"),
                                            aws_secret_access_key=params.get("secret_key"),
                                            aws_session_token=params.get("session_token"))
            self.client = session.client(service, region_name=params.get("region"),
                                         endpoint_url=params.get("endpoint_url"),
                                         verify=params.get("validate_certs", True),
                                         config=botocore.config.Config(retries={"total_max_attempts": 1}))
        except BotoCoreError as error:
            raise RollbackError("cannot create the %s client: %s" % (service, error))
        self.tries = tries
        self.sleeper = sleeper

    @classmethod
    def around(cls, client, tries=6, sleeper=None):
        """An AwsClient over an existing boto3 client (a Stubber's, in tests)."""
        wrapped = cls.__new__(cls)
        wrapped.client, wrapped.tries, wrapped.sleeper = client, tries, sleeper
        return wrapped

    def call(self, operation, retry_codes=(), **kwargs):
        """The operation's response; ``retry_codes`` are retried with a longer backoff than throttling."""
        method = getattr(self.client, operation)
        return self._guarded(operation, functools.partial(method, **kwargs), retry_codes)

    def paginate(self, operation, result_key, retry_codes=(), **kwargs):
        """Every item of ``result_key`` over all pages (botocore's paginator follows the Marker)."""
        paginator = self.client.get_paginator(operation)
        return self._guarded(operation, lambda: [item for page in paginator.paginate(**kwargs)
                                                 for item in page.get(result_key, [])], retry_codes)

    def _guarded(self, operation, func, retry_codes):
        extra = {} if self.sleeper is None else {"sleeper": self.sleeper}
        try:
            if retry_codes:
                return retry_call(lambda: retry_call(func, is_throttling, tries=self.tries, **extra),
                                  lambda error: error_code(error) in retry_codes, tries=self.state_tries,
                                  base=2.0, cap=self.state_cap, **extra)
            return retry_call(func, is_throttling, tries=self.tries, **extra)
        except ClientError as error:
            details = error.response.get("Error", {})
            raise RollbackError("%s failed: %s: %s" % (operation, details.get("Code"), details.get("Message")),
                                aws_error_code=details.get("Code"))
        except BotoCoreError as error:
            raise RollbackError("%s failed: %s" % (operation, error))

    def not_found(self, operation, codes, **kwargs):
        """The call's result, or None when AWS answers with one of the not-found ``codes``."""
        try:
            return self.call(operation, **kwargs)
        except RollbackError as error:
            if error.details.get("aws_error_code") in codes:
                return None
            raise

    def input_members(self, operation):
        """Parameter names the API operation accepts (from botocore's service model)."""
        name = self.client.meta.method_to_api_mapping[operation]
        return set(self.client.meta.service_model.operation_model(name).input_shape.members)
