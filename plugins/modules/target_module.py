#!/usr/bin/python
# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: target_module
short_description: Run the rollback.core module a host's target needs, as one task for every host of a phase
description:
  - An action plugin. Runs O(module) with O(args) on the host, exactly as a task naming that module would (check
    mode, diff, the task's C(environment), the connection and its interpreter), and returns that module's result.
  - Or runs the modules of O(calls) one after the other, as a task each would, and returns their results in
    RV(results); the calls after one that failed or did not answer are not run (a host's configuration sources,
    restored in their order).
  - Why it exists - the roles once included one task file per target type (C(rollout_undo.yml), C(swarm.yml), ...).
    Ansible runs the hosts of a play in lockstep, task by task, so hosts that included different files took their
    turns one file after another; one task for every host lets a Kubernetes, a Swarm and a blue/green service roll
    back at the same time.
  - The roles compute O(module) and O(args) from the inventory with the C(rollback.core.app_call) and
    C(rollback.core.database_call) filters, which decide the module from the service's target type or the
    database's type (a PostgreSQL restore and an RDS restore of one level 3 run at the same time), and O(calls)
    with C(rollback.core.config_calls) (one call per configuration source, whatever its type - one task per source
    cost a task run per source and host, and another to keep its result) and C(rollback.core.traffic_calls) (one
    call per way a service's traffic is stopped or resumed - its ALB target group, its nginx front, the platform).
  - On the controller (connection C(local), C(ansible_python_interpreter) the controller's own Python, no
    C(become)) the module runs inside the Ansible worker process instead of a new Python process, as every module
    of the collection does there (C(plugins/plugin_utils/in_worker.py)) - the client libraries (kubernetes, boto3,
    ...) are imported once per run, before the workers fork; arguments, check mode, diff, C(no_log),
    C(environment) and the result are those of a module process. Anywhere else the module runs as usual.
version_added: 0.2.0
author:
  - rollback.core maintainers (@rollback-core)
options:
  module:
    description:
      - The module to run, one of the collection's target modules. Required unless O(calls) is given.
    type: str
    choices:
      - rollback.core.rollout_undo
      - rollback.core.swarm_service_rollback
      - rollback.core.traffic
      - rollback.core.nginx_traffic
      - rollback.core.alb_traffic
      - rollback.core.frontend_restore
      - rollback.core.postgres_restore
      - rollback.core.rds_snapshot_restore
      - rollback.core.etcd_config_restore
      - rollback.core.k8s_config_restore
      - rollback.core.env_file_restore
  args:
    description:
      - The module's arguments; the module checks them (its own argument spec and C(no_log)). C({}) when unset.
    type: dict
  calls:
    description:
      - Modules to run one after the other instead of O(module). Mutually exclusive with O(module) and O(args).
    type: list
    elements: dict
    suboptions:
      module:
        description:
          - The module to run, one of the choices of O(module) (the same list, checked the same way).
        type: str
        required: true
      args:
        description:
          - The module's arguments.
        type: dict
        default: {}
      result:
        description:
          - Keys added to this call's result in RV(results) (the config role adds the source's C(source) type).
        type: dict
        default: {}
  merge_first:
    description:
      - With O(calls), the result also carries the first call's result keys, under the keys the calls' combination
        sets (RV(changed), RV(results), RV(duration), and C(failed), C(unreachable), C(msg) when a call failed).
        The registered result reads like the first call's task, with every call in RV(results). The traffic role
        registers its phase's result this way (the first way's C(platform), C(replicas_before), ...), without a
        task to reshape it.
      - Only with O(calls); with O(module) the task fails and runs nothing.
    type: bool
    default: false
attributes:
  action:
    support: full
    description: Runs on the controller to choose the module, which then runs on the host (inside the worker when
      the host is the controller itself).
  check_mode:
    support: full
    description: The module runs in check mode (all the target modules support it).
  diff_mode:
    support: full
    description: The module's diff.
"""

EXAMPLES = r"""
- name: Roll the service back on its target
  rollback.core.target_module:
    module: "{{ _app_call.module }}"
    args: "{{ _app_call.args }}"
  vars:
    _app_call: "{{ rollback_service_app | rollback.core.app_call('swarm', inventory_hostname, 300) }}"
  register: app_result

- name: Restore the configuration sources of the service, in order
  rollback.core.target_module:
    calls: "{{ rollback_service_config | rollback.core.config_calls({}, '', 300) }}"
  register: config_result
"""

RETURN = r"""
changed:
  description: What the module returned; with O(calls), whether any of them changed something.
  returned: always
  type: bool
results:
  description:
    - Each call's module result, with the call's O(calls[].result) keys, up to the first that failed or did not
      answer (whose C(msg) is the task's).
  returned: with O(calls)
  type: list
  elements: dict
duration:
  description: With O(calls), the seconds the modules took, added up.
  returned: with O(calls)
  type: float
"""
