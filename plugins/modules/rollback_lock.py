#!/usr/bin/python
# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: rollback_lock
short_description: Take or release the one-rollback-per-environment lock
description:
  - Two rollbacks of one environment must never run at once. O(state=present) takes the lock named O(name) for
    the run O(run_id), or fails naming who holds it (owner, run id, level, since, expiry) with nothing changed.
  - Taking a lock this run already holds changes nothing, so a re-run of a phase is harmless.
  - O(backend=file) keeps the lock in C(<lock_dir>/<name>.lock), created exclusively; a lock older than O(ttl)
    is taken over (its run is presumed dead) and reported in RV(took_over). Use it when every run of the
    environment starts on the same machine.
  - O(backend=etcd) keeps the lock in an etcd key put only when absent, under a lease of O(ttl) seconds that
    expires it; use it when runs start on different machines (AWX execution nodes).
  - O(state=absent) releases the lock only when O(run_id) holds it, unless O(force=true).
version_added: 0.1.0
author:
  - rollback.core maintainers (@rollback-core)
extends_documentation_fragment:
  - rollback.core.etcd
options:
  name:
    description:
      - Name of the lock, usually the environment, for example C(production).
    type: str
    required: true
  state:
    description:
      - V(present) takes the lock, V(absent) releases it.
    type: str
    choices: [present, absent]
    default: present
  run_id:
    description:
      - Identifier of this rollback run, unique per run. The lock is released only by the run that holds it.
    type: str
    required: true
  owner:
    description:
      - Who runs the rollback, shown to a refused run. Default C(<user>@<host>).
    type: str
  info:
    description:
      - Facts about the run kept in the lock and shown to a refused run, for example level and services.
    type: dict
    default: {}
  ttl:
    description:
      - Seconds after which the lock expires if the run never releases it. Choose it above the longest
        rollback (the level 3 budget is 900 s).
    type: int
    default: 3600
  force:
    description:
      - Take or release a lock another run holds. Only when that run is known to be dead.
    type: bool
    default: false
  backend:
    description:
      - Where the lock lives.
    type: str
    choices: [file, etcd]
    default: file
  lock_dir:
    description:
      - Directory of file locks (backend V(file)).
    type: path
    default: /var/lock/rollback-core
  key_prefix:
    description:
      - Prefix of lock keys (backend V(etcd)).
    type: str
    default: /rollback-core/locks/
attributes:
  check_mode:
    support: full
    description: Reports whether the lock would be taken or released, and fails when another run holds it.
"""

EXAMPLES = r"""
- name: Take the production rollback lock
  rollback.core.rollback_lock:
    name: production
    run_id: "{{ rollback_run_id }}"
    info:
      level: 3
      services: "{{ rollback_selected_services | join(',') }}"

- name: Release it at the end, whatever happened
  rollback.core.rollback_lock:
    name: production
    run_id: "{{ rollback_run_id }}"
    state: absent

- name: Locks shared by several AWX nodes live in etcd
  rollback.core.rollback_lock:
    name: production
    run_id: "{{ rollback_run_id }}"
    backend: etcd
    endpoints: [https://etcd.internal:2379]
    ttl: 1800
"""

RETURN = r"""
lock:
  description: Where the lock lives (file path or etcd key and endpoint).
  returned: always
  type: str
holder:
  description:
    - The lock record after the call (taken) or before it (released), or null when there was no lock.
    - Keys are owner, run_id, since, expires, expires_epoch and info.
  returned: always
  type: dict
took_over:
  description: The record of an expired lock this run took over, or null.
  returned: always
  type: dict
duration:
  description: Seconds the module took.
  returned: always
  type: float
"""

from ansible_collections.rollback.core.plugins.module_utils import lock
from ansible_collections.rollback.core.plugins.module_utils.base import RollbackModule
from ansible_collections.rollback.core.plugins.module_utils.etcd import ETCD_CONNECTION_SPEC, ETCD_IMPORT_ERROR


def run(module):
    if module.params["backend"] == "etcd":
        module.require_library("etcd3gw", ETCD_IMPORT_ERROR)
    return lock.run(module)


def main():
    module = RollbackModule(dict(), shared_specs=(ETCD_CONNECTION_SPEC, lock.LOCK_SPEC), supports_check_mode=True)
    module.run(run)


if __name__ == "__main__":
    main()
