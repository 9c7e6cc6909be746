# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""rollback.core.target_module: one task that runs, on each host, the module its target needs (see the module's
documentation for why)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.plugins.action import ActionBase
from ansible.utils.vars import merge_hash

from ansible_collections.rollback.core.plugins.plugin_utils import in_worker

MODULES = ("rollback.core.rollout_undo", "rollback.core.swarm_service_rollback", "rollback.core.nginx_traffic",
           "rollback.core.alb_traffic", "rollback.core.frontend_restore", "rollback.core.postgres_restore",
           "rollback.core.rds_snapshot_restore")
in_worker.preload_modules(MODULES)
SPEC = dict(module=dict(type="str", required=True, choices=list(MODULES)), args=dict(type="dict", default={}))


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(SPEC)

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        dummy, params = self.validate_argument_spec(argument_spec=SPEC)
        try:
            return merge_hash(result, in_worker.execute(self, params["module"], params["args"], task_vars))
        finally:
            self._remove_tmp_path(self._connection._shell.tmpdir)
