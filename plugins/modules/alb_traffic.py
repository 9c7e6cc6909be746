#!/usr/bin/python
# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: alb_traffic
short_description: Drain and restore an AWS load balancer target group, or switch a listener between blue and green
description:
  - Stops and resumes traffic at an AWS Application or Network Load Balancer around a database restore (runbook 000
    steps 1.2 and 4.5, "Option A AWS ELB/ALB"), and switches a listener between two target groups for a blue/green
    rollback (runbook 003).
  - O(state=drained) saves the targets registered in O(target_group) (Id, Port, AvailabilityZone), then deregisters
    them. Saving comes first, so a failure never leaves targets deregistered and unsaved.
  - O(state=restored) re-registers exactly the saved targets, clears the record and waits until they are healthy
    (or C(unused) when no load balancer uses the group).
  - 'Where the record is kept: by default in tags on the target group itself, so any later run (after a crash, from
    another machine) finds it. ELB tag values allow only letters, digits, spaces and C(_ . : / = + - @) and at most
    255 characters, so each target is written as C(Id[=Port][@AvailabilityZone]), space separated, over the tags
    C(rollback.core/targets-before-drain/1), C(/2), ... with a header tag C(rollback.core/targets-before-drain)
    (C(tags=<n> targets=<count> saved=<UTC time>)). A target group has at most 50 tags; when the record does not fit
    the task fails before any change and asks for O(state_file).'
  - Draining a group that already has a saved record adds the targets registered since to it (nothing saved is ever
    dropped); targets in C(draining) state are not counted as registered.
  - O(listener_arn) with O(forward_to) points the listener's default action at the target group of the colour to
    make live (authentication actions are kept). The other target group and every target stay as they are. Refused
    when O(forward_to) has no registered targets or is in another VPC than the load balancer.
version_added: 0.1.0
author:
  - rollback.core maintainers (@rollback-core)
extends_documentation_fragment:
  - rollback.core.aws
  - rollback.core.wait
options:
  state:
    description:
      - V(drained) saves and deregisters the targets of O(target_group); V(restored) re-registers the saved ones.
      - Mutually exclusive with O(forward_to).
    type: str
    choices: [drained, restored]
  target_group:
    description:
      - ARN or name of the target group to drain or restore. Required with O(state).
    type: str
    aliases: [target_group_arn, target_group_name]
  state_file:
    description:
      - Keep the saved targets in this JSON file instead of tags on the target group (for groups whose targets do
        not fit in tags, or accounts where tagging is not allowed). The same file must be given to restore; it is
        written atomically and removed once the targets are registered again.
    type: path
  listener_arn:
    description:
      - Listener whose default action O(forward_to) switches. Given together with O(forward_to).
    type: str
  forward_to:
    description:
      - ARN or name of the target group the listener's default action should forward to (the colour to make live).
    type: str
attributes:
  check_mode:
    description: Reads the real state and reports what would be saved, deregistered, registered or switched.
    support: full
  diff_mode:
    description: Registered and saved targets, or the listener's live target group, before and after.
    support: full
notes:
  - Waiting (O(wait)) covers deregistration (the targets' C(draining) state ends after the group's deregistration
    delay), the restored targets becoming healthy and, after a switch, the live group having healthy targets.
"""

EXAMPLES = r"""
- name: Stop traffic to the api (runbook 000 step 1.2)
  rollback.core.alb_traffic:
    region: eu-west-1
    target_group: api-prod
    state: drained

- name: Resume it with exactly the targets saved at the drain (step 4.5)
  rollback.core.alb_traffic:
    region: eu-west-1
    target_group: api-prod
    state: restored
    wait_timeout: 600

- name: A group too large for tags keeps its record on disk
  rollback.core.alb_traffic:
    target_group: arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/workers/0123456789abcdef
    state: drained
    state_file: /var/lib/rollback/workers-targets.json

- name: Blue/green rollback - make blue live again
  rollback.core.alb_traffic:
    listener_arn: "{{ listener_arn }}"
    forward_to: api-blue
  register: switch
"""

RETURN = r"""
target_group:
  description: The target group drained, restored or made live (arn, name).
  returned: always
  type: dict
targets_before:
  description: Targets registered before the call (Id, Port, AvailabilityZone when known); draining ones excluded.
  returned: with state
  type: list
  elements: dict
targets_after:
  description: Targets registered after the call.
  returned: with state
  type: list
  elements: dict
saved_targets:
  description: The saved record after the call (empty once restored).
  returned: with state
  type: list
  elements: dict
saved_in:
  description: Where the record is kept (the tags or O(state_file)).
  returned: with state
  type: str
registered:
  description: Targets registered by O(state=restored) (the saved ones that were missing).
  returned: with state=restored and a saved record
  type: list
  elements: dict
listener_arn:
  description: The listener switched.
  returned: with forward_to
  type: str
from_version:
  description: The target group(s) the listener forwarded to before, for reports.
  returned: with forward_to
  type: str
to_version:
  description: The target group it forwards to after (O(forward_to)), for reports.
  returned: with forward_to
  type: str
live_before:
  description: What the listener's default action did before (type, arn, name, weight of each forwarded group).
  returned: with forward_to
  type: list
  elements: dict
live_after:
  description: What it does after (a forward to O(forward_to)).
  returned: with forward_to
  type: list
  elements: dict
duration:
  description: Seconds the module took.
  returned: always
  type: float
"""

from ansible_collections.rollback.core.plugins.module_utils.aws import AWS_CONNECTION_SPEC, BOTO3_IMPORT_ERROR
from ansible_collections.rollback.core.plugins.module_utils.base import RollbackModule
from ansible_collections.rollback.core.plugins.module_utils.elb import alb_traffic
from ansible_collections.rollback.core.plugins.module_utils.wait import WAIT_SPEC


def main():
    module = RollbackModule(
        dict(
            state=dict(type="str", choices=["drained", "restored"]),
            target_group=dict(type="str", aliases=["target_group_arn", "target_group_name"]),
            state_file=dict(type="path"),
            listener_arn=dict(type="str"),
            forward_to=dict(type="str"),
        ),
        shared_specs=(AWS_CONNECTION_SPEC, WAIT_SPEC),
        required_one_of=[("state", "forward_to")],
        mutually_exclusive=[("state", "forward_to"), ("forward_to", "target_group"), ("forward_to", "state_file")],
        required_together=[("listener_arn", "forward_to")],
        required_if=[("state", "drained", ["target_group"]), ("state", "restored", ["target_group"])],
        supports_check_mode=True,
    )
    module.require_library("boto3", BOTO3_IMPORT_ERROR)
    module.run(alb_traffic)


if __name__ == "__main__":
    main()
