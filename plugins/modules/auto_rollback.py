#!/usr/bin/python
# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: auto_rollback
short_description: Decide what an Alertmanager alert may start - an automatic rollback, an approval request or a notice
description:
  - 'Reads the webhook notification of Alertmanager (payload version 4) for the collection''s trigger rules
    (C(extensions/prometheus/rollback_triggers.rules.yml.j2)). Each firing alert names the service (inventory host),
    its priority (C(P1) a runbook''s automatic trigger, C(P2) an escalation trigger), the rollback_decision signal its
    value feeds and the runbook it comes from.'
  - Per service, the alerts' values and the deploy marker's flags go through rollback.core.rollback_decision's
    table (the runbooks' matrices, not repeated here). The service is rolled back automatically (RV(run)) only when
    one of its triggers has a pre-approved priority, the table says ROLLBACK and the recommended level is
    pre-approved (runbook 001 "execute immediate rollback if ANY is met", runbook 000's gate "error rate > 1% for 2+
    minutes, rollback approved (automatic)"). Anything else asks for approval (RV(approval), runbook 000 "manual
    approval required, incident lead and ops lead"), with the exact command to run.
  - 'Guards turn either into a notice (RV(notices)) that names every guard that applies. No deploy of the service
    started within O(deploy_window) before the alert (its deploy marker in O(marker_dir)), or that deploy is still
    running. The service was already rolled back automatically within O(throttle_window) (runbook 000, no repeated
    rollbacks without assessment; escalate), or approval was already requested within it. Another rollback holds the
    environment''s lock (O(lock)). O(dry_run). A declared freeze (O(freeze_windows), O(freeze_file)) turns an
    automatic rollback into an approval request.'
  - With O(scope=deploy), a service's whole deploy (the marker's C(services) of the same C(deploy_id)) goes back
    together, at the highest level any of them needs, automatically only when every alerting one is pre-approved
    (runbook 001 "multi-service deployment, coordinate rollback across services").
  - What it starts (RV(run) and RV(approval) services) is recorded in O(state_dir), the throttle's memory; nothing
    else is written. It never rolls back itself; the rulebook C(rollback.core.auto_rollback) acts on its result.
version_added: 0.2.0
author:
  - rollback.core maintainers (@rollback-core)
options:
  notification:
    description: The body Alertmanager posted to the webhook (its C(alerts), C(groupKey), C(truncatedAlerts), ...).
    type: dict
    required: true
  environment:
    description: The environment, naming the lock (unless O(lock.name)) and the history file.
    type: str
    required: true
  services:
    description: The inventory's services (group C(rollback_services)); an alert for another service only notifies.
    type: list
    elements: str
    required: true
  thresholds:
    description: rollback.core.rollback_decision threshold overrides, by name.
    type: dict
    default: {}
  pre_approved_levels:
    description:
      - Levels rolled back without approval. V(1) and V(2) only; level 3 (database restore, data loss) always needs
        approval. V([]) makes every trigger an approval request.
    type: list
    elements: int
    default: [1]
  pre_approved_priorities:
    description: Alert priorities (label C(priority)) that are runbooks' automatic triggers.
    type: list
    elements: str
    default: [P1]
  scope:
    description:
      - V(service) rolls back the alerting services. V(deploy) rolls back every service of their deploys.
    type: str
    choices: [service, deploy]
    default: service
  marker_dir:
    description:
      - Directory of the deploy markers, C(<service>.json), written by the deploy step. Required keys C(service),
        C(deploy_id), C(status) (C(in_progress), C(done), C(failed)) and C(started_at) (RFC 3339); optional
        C(services) (every service of the deploy), C(version), C(previous_version), C(finished_at),
        C(deployed_by), and the flags C(config_changed), C(migration_ran), C(migration_failed) that raise the
        recommended level.
    type: path
    required: true
  deploy_window:
    description: Seconds after a deploy starts within which an alert counts as caused by it.
    type: int
    default: 1800
  deploy_timeout:
    description: Seconds after which a marker still C(in_progress) is taken as an abandoned deploy.
    type: int
    default: 3600
  state_dir:
    description: Directory of the history of automatic rollbacks and approval requests, C(<environment>.json).
    type: path
    required: true
  throttle_window:
    description: Seconds within which a service is rolled back automatically at most once (and asked about once).
    type: int
    default: 3600
  freeze_windows:
    description: Declared freezes; during one, automatic rollbacks wait for approval.
    type: list
    elements: dict
    default: []
    suboptions:
      start:
        description: Start, RFC 3339.
        type: str
        required: true
      end:
        description: End, RFC 3339.
        type: str
        required: true
      reason:
        description: Why, for the notification.
        type: str
  freeze_file:
    description: While this file exists a freeze is declared; its first line is the reason.
    type: path
  lock:
    description:
      - The environment's rollback lock, as rollback.core.rollback_lock keeps it (read only, never taken).
    type: dict
    default: {}
    suboptions:
      backend:
        description: V(file) or V(etcd).
        type: str
        choices: [file, etcd]
        default: file
      lock_dir:
        description: Directory of file locks.
        type: path
        default: /var/lock/rollback-core
      name:
        description: Lock name. Default O(environment).
        type: str
      key_prefix:
        description: Prefix of etcd lock keys.
        type: str
        default: /rollback-core/locks/
      endpoints:
        description: etcd client URLs.
        type: list
        elements: str
        default: [http://127.0.0.1:2379]
      user:
        description: etcd user.
        type: str
      password:
        description: etcd password.
        type: str
      ca_cert:
        description: CA bundle for https endpoints.
        type: path
      client_cert:
        description: Client certificate for mutual TLS.
        type: path
      client_key:
        description: Key of O(lock.client_cert).
        type: path
      timeout:
        description: Seconds per etcd request.
        type: float
        default: 10.0
  dry_run:
    description: Decide and notify only; nothing is started or recorded.
    type: bool
    default: false
  inventory:
    description: Inventory named in the approval command (C(-i)).
    type: str
  playbook:
    description: Playbook named in the approval command.
    type: str
    default: playbooks/rollback.yml
  require_confirmation:
    description: The environment requires C(-e confirm=true) (production); the approval command carries it.
    type: bool
    default: false
attributes:
  check_mode:
    description: Decides the same way and records nothing.
    support: full
  diff_mode:
    description: The history is not shown as a diff.
    support: none
"""

EXAMPLES = r"""
- name: Decide on the notification the rulebook received
  rollback.core.auto_rollback:
    notification: "{{ ansible_eda.event.payload }}"
    environment: production
    services: "{{ groups['rollback_services'] }}"
    marker_dir: /var/lib/rollback-core/deploys
    state_dir: /var/lib/rollback-core/auto
    deploy_window: 1800
    throttle_window: 3600
    freeze_file: /etc/rollback-core/freeze
    lock:
      backend: etcd
      endpoints: [https://etcd.internal:2379]
    inventory: inventories/production
    require_confirmation: true
  register: auto
"""

RETURN = r"""
verdict:
  description: V(run) (an automatic rollback starts), V(approval), V(notify) (only notices) or V(none).
  returned: always
  type: str
run:
  description:
    - The automatic rollback to start, or null. C(level), C(services), C(reason) and C(extra_vars) (the production
      survey's launch variables, for a job template on AWX).
  returned: always
  type: dict
approval:
  description:
    - The rollback needing approval, or null. C(level), C(services), C(reason), C(because) (why it is not
      automatic), C(decisions) (rollback_decision per service), C(command) (the exact ansible-playbook command),
      C(extra_vars) (the launch variables of the production workflow's survey, C(awx/surveys)) and C(message) (for
      the notification).
  returned: always
  type: dict
notices:
  description: What only notifies, each with C(services) and C(message) naming every guard that stopped it.
  returned: always
  type: list
  elements: dict
notice_text:
  description: The notices as one text.
  returned: always
  type: str
notices_repeated:
  description:
    - The same notices were already given within O(throttle_window) (Alertmanager repeats a firing group's
      notification); the rulebook's playbook does not send them again.
  returned: always
  type: bool
services:
  description: Per service considered - verdict, level, guards, the decision, signals and its alerts.
  returned: always
  type: list
  elements: dict
alerts:
  description: The notification's firing alerts (name, service, priority, signal, value, runbook, start, summary).
  returned: always
  type: list
  elements: dict
resolved:
  description: The notification's resolved alerts.
  returned: always
  type: list
  elements: dict
dry_run:
  description: Whether this was a dry run.
  returned: always
  type: bool
history:
  description: The history file.
  returned: always
  type: str
recorded:
  description: The history entries this call wrote (none in check mode or dry run).
  returned: always
  type: list
  elements: dict
"""

from ansible_collections.rollback.core.plugins.module_utils import auto_rollback
from ansible_collections.rollback.core.plugins.module_utils.base import RollbackModule
from ansible_collections.rollback.core.plugins.module_utils.etcd import ETCD_IMPORT_ERROR


def run(module):
    if (module.params["lock"] or {}).get("backend") == "etcd":
        module.require_library("etcd3gw", ETCD_IMPORT_ERROR)
    return auto_rollback.run(module)


def main():
    module = RollbackModule(auto_rollback.SPEC, supports_check_mode=True)
    module.run(run)


if __name__ == "__main__":
    main()
