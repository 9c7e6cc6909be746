# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # Matches AWS_CONNECTION_SPEC in plugins/module_utils/aws.py.
    DOCUMENTATION = r"""
options:
  region:
    description:
      - AWS region. Default, the environment or the profile's.
    type: str
    aliases: [aws_region]
  endpoint_url:
    description:
      - Endpoint URL of the AWS API, for an emulator or a VPC endpoint.
    type: str
    aliases: [aws_endpoint_url]
  profile:
    description:
      - Named profile of the AWS shared configuration.
    type: str
    aliases: [aws_profile]
  access_key:
    description:
      - AWS access key ID. Default, the standard credential chain (environment, profile, instance role).
    type: str
    aliases: [aws_access_key_id]
  secret_key:
    description:
      - AWS secret access key; given with O(access_key).
    type: str
    aliases: [aws_secret_access_key]
  session_token:
    description:
      - AWS session token for temporary credentials.
    type: str
    aliases: [aws_session_token]
  validate_certs:
    description:
      - Verify the endpoint's TLS certificate.
    type: bool
    default: true
requirements:
  - boto3 >= 1.28 (Python)
notes:
  - Throttling errors are retried with jittered exponential backoff; any other AWS error fails the task with
    the operation, the AWS error code and its message.
"""
