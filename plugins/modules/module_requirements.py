#!/usr/bin/python
# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: module_requirements
short_description: Check that this host's Python has the libraries the given rollback.core modules need
description:
  - Runs with the host's own interpreter (C(ansible_python_interpreter)) and looks up, without importing them,
    the Python libraries of each module in O(modules). Preflight runs it on every host of a rollback before the
    lock, so a server that lacks C(psycopg2) is refused up front, not half-way through a level 3.
  - Fails, naming the interpreter and each missing library with its pip package and the module that needs it,
    when any is missing. Changes nothing.
version_added: 0.1.0
author:
  - rollback.core maintainers (@rollback-core)
options:
  modules:
    description:
      - Modules the host will run, by short name (C(postgres_restore)), or C(<module>:<platform>) where the platform
        decides (C(rollout_undo:kubernetes), C(traffic:swarm), C(rollback_lock:etcd)).
    type: list
    elements: str
    required: true
attributes:
  check_mode:
    support: full
    description: Only reads.
  diff_mode:
    support: none
    description: Nothing changes.
"""

EXAMPLES = r"""
- name: The database host can run postgres_restore and migration_status
  rollback.core.module_requirements:
    modules: [postgres_restore, migration_status]
"""

RETURN = r"""
python:
  description: The interpreter that was checked.
  returned: always
  type: dict
  contains:
    executable:
      description: Its path.
      type: str
      returned: always
    version:
      description: Its version.
      type: str
      returned: always
missing:
  description: The libraries it lacks, each with C(module), C(library) and C(pip).
  returned: always
  type: list
  elements: dict
duration:
  description: Seconds the module took.
  returned: always
  type: float
"""

from ansible_collections.rollback.core.plugins.module_utils import requirements
from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError, RollbackModule


def check(module):
    try:
        absent = requirements.missing(module.params["modules"])
    except ValueError as error:
        raise RollbackError(str(error))
    python = requirements.python()
    if absent:
        raise RollbackError("Python %s (%s) lacks %s: install them there (requirements.txt) or set "
                            "ansible_python_interpreter to a Python that has them" % (
                                python["version"], python["executable"], "; ".join(
                                    "%s (pip install %s) for %s" % (m["library"], m["pip"], m["module"])
                                    for m in absent)), python=python, missing=absent)
    return dict(changed=False, python=python, missing=[])


def main():
    module = RollbackModule(dict(modules=dict(type="list", elements="str", required=True)), supports_check_mode=True)
    module.run(check)


if __name__ == "__main__":
    main()
