# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""rollback.core.target_module: one task that runs, on each host, the module its target needs, or the modules of
its calls one after the other (see the module's documentation for why)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleConnectionFailure
from ansible.module_utils.common.text.converters import to_text
from ansible.plugins.action import ActionBase
from ansible.utils.vars import merge_hash

from ansible_collections.rollback.core.plugins.plugin_utils import in_worker

MODULES = ("rollback.core.rollout_undo", "rollback.core.swarm_service_rollback", "rollback.core.traffic",
           "rollback.core.nginx_traffic",
           "rollback.core.alb_traffic", "rollback.core.frontend_restore", "rollback.core.postgres_restore",
           "rollback.core.rds_snapshot_restore", "rollback.core.etcd_config_restore",
           "rollback.core.k8s_config_restore", "rollback.core.env_file_restore")
in_worker.preload_modules(MODULES)
CALL = dict(module=dict(type="str", required=True, choices=list(MODULES)), args=dict(type="dict", default={}),
            result=dict(type="dict", default={}))
SPEC = dict(module=dict(type="str", choices=list(MODULES)), args=dict(type="dict"),
            calls=dict(type="list", elements="dict", options=CALL), merge_first=dict(type="bool", default=False))


def run_calls(action, calls, task_vars, merge_first=False):
    """Each call's result in ``results`` (with the call's ``result`` keys), in order, up to the first that failed
    or did not answer: the calls after it are not run, as the tasks after a failed one are not. ``merge_first``:
    the first call's keys too, under the combination's own (the traffic role's result, registered as it is)."""
    results = []
    for call in calls:
        try:
            outcome = in_worker.execute(action, call["module"], call["args"], task_vars)
        except AnsibleConnectionFailure as error:
            outcome = dict(unreachable=True, msg=to_text(error))
        results.append(dict(outcome, **call["result"]))
        if outcome.get("failed") or outcome.get("unreachable"):
            break
    combined = dict(results=results, changed=any(bool(r.get("changed")) for r in results),
                    # the time the modules waited, for the timeline callback (one module's own duration)
                    duration=round(sum(r.get("duration") or 0.0 for r in results), 3))
    diffs = [d for r in results for d in (r["diff"] if isinstance(r.get("diff"), list) else [r.get("diff")]) if d]
    warnings = [w for r in results for w in r.get("warnings") or []]
    if diffs:
        combined["diff"] = diffs
    if warnings:
        combined["warnings"] = warnings
    last = results[-1] if results else {}
    for key in ("failed", "unreachable"):
        if last.get(key):
            combined.update({key: True, "msg": last.get("msg") or "%s %s" % (calls[len(results) - 1]["module"], key)})
    if merge_first and results:
        return dict(results[0], **combined)
    return combined


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(SPEC)

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        dummy, params = self.validate_argument_spec(argument_spec=SPEC, required_one_of=[("module", "calls")],
                                                    mutually_exclusive=[("module", "calls"), ("args", "calls")])
        if params["merge_first"] and params["calls"] is None:
            result.update(failed=True, msg="merge_first is for calls: a module's own result is returned as it is")
            return result
        try:
            if params["calls"] is not None:
                return merge_hash(result, run_calls(self, params["calls"], task_vars, params["merge_first"]))
            return merge_hash(result, in_worker.execute(self, params["module"], params["args"] or {}, task_vars))
        finally:
            self._remove_tmp_path(self._connection._shell.tmpdir)
