# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The action of every rollback.core module (meta/runtime.yml routes them here): run on the controller with its own
Python, the module runs inside the worker (plugin_utils/in_worker.py); anywhere else as ansible-core's ``normal``
action runs it."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.plugins.action.normal import ActionModule as NormalAction
from ansible.utils.vars import merge_hash

from ansible_collections.rollback.core.plugins.plugin_utils import in_worker

in_worker.preload()


class ActionModule(NormalAction):

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        if not in_worker.eligible(self, task_vars):
            return super(ActionModule, self).run(tmp, task_vars)
        result = super(NormalAction, self).run(tmp, task_vars)  # ActionBase's checks, without a module process
        module = self._shared_loader_obj.module_loader.find_plugin_with_context(
            self._task.action, collection_list=self._task.collections)
        module_name = module.resolved_fqcn  # the module's; the task's resolved_action is this action
        return merge_hash(result, in_worker.run(self, module_name, self._task.args, task_vars))
