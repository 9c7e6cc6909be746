"""docs/least-privilege/iam-policy.json checked by a policy evaluator, not only compared with the code's calls.

moto implements neither SimulateCustomPolicy nor SimulatePrincipalPolicy (moto/iam/responses.py has no handler
for them), but it enforces IAM on every request once ``set_initial_no_auth_action_count`` is spent
(moto/core/authorization.py ActionAuthenticatorMixin._authenticate_and_authorize_action ->
moto/iam/access_control.py IAMRequestBase.check_action_permitted: the caller's user policies, explicit Deny
first). So a user holding exactly the documented policy calls each API the policy names: none may be refused,
and calls the collection must never make (deletes) must be.

Limits of moto's evaluator, so of this test: it matches a statement's Resource against "*" for these services
(its access_control.py: "TODO add support for the Resource and Condition parts"), so the user gets the policy
with every Resource widened to "*": action names are checked, resource ARNs are not. CloudFront requests are
dispatched without the authorization step (moto/cloudfront/responses.py does not go through call_action), so
CloudFront actions are checked only against the code (tests/integration/test_least_privilege.py).
"""

import json
import os

import boto3
import pytest
from botocore.exceptions import ClientError

moto = pytest.importorskip("moto")
from moto.core import disable_iam_authentication, enable_iam_authentication  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
POLICY = os.path.join(REPO, "docs", "least-privilege", "iam-policy.json")
# IAM action -> (boto3 service, operation): S3 authorises by what is done to buckets and objects.
S3_OPERATIONS = {"s3:ListBucket": "ListObjectsV2", "s3:GetBucketVersioning": "GetBucketVersioning",
                 "s3:GetObject": "GetObject", "s3:PutObject": "PutObject", "s3:DeleteObject": "DeleteObject"}
SERVICES = {"rds": "rds", "elasticloadbalancing": "elbv2", "s3": "s3"}  # where moto enforces IAM
NEVER = ["rds:DeleteDBInstance", "rds:DeleteDBSnapshot", "rds:DeleteDBCluster",
         "elasticloadbalancing:DeleteTargetGroup", "elasticloadbalancing:DeleteLoadBalancer", "s3:DeleteBucket"]


def documented_policy():
    with open(POLICY) as handle:
        return json.load(handle)


def allowed_actions():
    return sorted(action for statement in documented_policy()["Statement"] if statement["Effect"] == "Allow"
                  for action in statement["Action"] if action.split(":")[0] in SERVICES)


def resources_widened(policy):
    return dict(policy, Statement=[dict(statement, Resource="*") for statement in policy["Statement"]])


def operation_of(action):
    prefix, name = action.split(":")
    if prefix == "s3" and name != "DeleteBucket":
        return SERVICES[prefix], S3_OPERATIONS[action]
    return SERVICES[prefix], name


def sample(shape, depth=0):
    """The smallest value botocore accepts for a shape (required members only)."""
    if shape.type_name == "structure":
        return {name: sample(shape.members[name], depth + 1) for name in shape.required_members}
    if shape.type_name == "list":
        return [sample(shape.member, depth + 1)]
    if shape.type_name in ("integer", "long"):
        return 1
    if shape.type_name == "boolean":
        return False
    if shape.type_name == "timestamp":
        return "2025-01-01T00:00:00Z"
    if shape.type_name == "blob":
        return b"x"
    if shape.type_name == "map":
        return {}
    return "rollback-core-test-%d" % depth


def refused(client, operation):
    """True when moto's IAM evaluation refuses the call; any other error means it was authorised."""
    model = client.meta.service_model.operation_model(operation)
    method = client.meta.method_to_api_mapping and next(
        m for m, api in client.meta.method_to_api_mapping.items() if api == operation)
    params = sample(model.input_shape) if model.input_shape is not None else {}
    try:
        getattr(client, method)(**params)
    except ClientError as error:
        return error.response["Error"]["Code"] in ("AccessDenied", "AccessDeniedException")
    except Exception:  # noqa: BLE001 - moto's handler failing on the sample input: the call was authorised
        return False
    return False


@pytest.fixture(scope="module")
def limited_clients():
    names = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE")
    saved = {name: os.environ.pop(name, None) for name in names}
    try:
        with moto.mock_aws():
            with disable_iam_authentication():
                iam = boto3.client("iam", region_name="us-east-1", aws_access_key_id="setup",
                                   aws_secret_access_key="setup")
                iam.create_user(UserName="rollback")
                iam.put_user_policy(UserName="rollback", PolicyName="least-privilege",
                                    PolicyDocument=json.dumps(resources_widened(documented_policy())))
                key = iam.create_access_key(UserName="rollback")["AccessKey"]
            with enable_iam_authentication():
                yield {service: boto3.client(service, region_name="us-east-1", aws_access_key_id=key["AccessKeyId"],
                                             aws_secret_access_key=key["SecretAccessKey"])
                       for service in set(SERVICES.values())}
    finally:
        os.environ.update({name: value for name, value in saved.items() if value is not None})


def test_the_evaluator_authorises_listing_by_s3_list_bucket_as_aws_does(limited_clients):
    """AWS authorises ListObjects and ListObjectsV2 with s3:ListBucket (there is no s3:ListObjectsV2 action, IAM
    Service Authorization Reference for S3); moto 5.2.6 checks s3:ListObjectsV2 instead (tests/requirements.txt)."""
    assert not refused(limited_clients["s3"], "ListObjectsV2"), \
        "moto's evaluator does not map ListObjectsV2 to s3:ListBucket"


def test_every_action_of_the_policy_is_authorised_for_a_user_holding_only_it(limited_clients):
    assert len(allowed_actions()) >= 15, "the policy's RDS, ELB and S3 actions are all checked"
    denied = [action for action in allowed_actions()
              if refused(limited_clients[operation_of(action)[0]], operation_of(action)[1])]
    assert denied == []


@pytest.mark.parametrize("action", NEVER)
def test_what_a_rollback_must_never_do_is_refused(limited_clients, action):
    service, operation = operation_of(action)
    assert refused(limited_clients[service], operation), "%s is allowed by the documented policy" % action
