# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The action of every rollback.core module (meta/runtime.yml routes them here).

``rollback.core.target_module`` runs, on each host, the module its target needs (see the module's documentation);
any other module of the collection runs as itself. Either way a module on the controller with its own Python runs
inside the worker (plugin_utils/in_worker.py), anywhere else as ansible-core's ``normal`` action runs it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.plugins.action.normal import ActionModule as NormalAction
from ansible.utils.vars import merge_hash

from ansible_collections.rollback.core.plugins.plugin_utils import in_worker

in_worker.preload()

NAME = "rollback.core.target_module"
MODULES = ("rollback.core.rollout_undo", "rollback.core.swarm_service_rollback", "rollback.core.nginx_traffic",
           "rollback.core.alb_traffic", "rollback.core.frontend_restore", "rollback.core.postgres_restore",
           "rollback.core.rds_snapshot_restore")
SPEC = dict(module=dict(type="str", required=True, choices=list(MODULES)), args=dict(type="dict", default={}))


class ActionModule(NormalAction):

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        module_name = self._shared_loader_obj.module_loader.find_plugin_with_context(
            self._task.action, collection_list=self._task.collections).resolved_fqcn
        if module_name == NAME:
            self._VALID_ARGS = frozenset(SPEC)
            self._supports_async = False
            result = super(NormalAction, self).run(tmp, task_vars)
            dummy, params = self.validate_argument_spec(argument_spec=SPEC)
            module_name, module_args = params["module"], params["args"]
        elif in_worker.eligible(self, task_vars):
            result = super(NormalAction, self).run(tmp, task_vars)
            module_args = self._task.args
        else:
            return super(ActionModule, self).run(tmp, task_vars)
        try:
            return merge_hash(result, in_worker.execute(self, module_name, module_args, task_vars))
        finally:
            self._remove_tmp_path(self._connection._shell.tmpdir)
