# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The run context of a rollback (``rollback_run``): the level's phases, the selection and the blast radius.

The level -> phases table is here and nowhere else: preflight copies the level's rows into ``rollback_run.phases``,
the ``rollback.core.level`` role runs them in order, the report reads them from the run.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
from collections.abc import Mapping

from ansible.errors import AnsibleFilterError
from ansible.module_utils.parsing.convert_bool import boolean
from ansible.module_utils.six import string_types

# Every phase, in the order a run does them (../shared/DESIGN.md, the one flow). A level runs the rows whose
# ``level`` is at most its own: 1 app; 2 + config; 3 + traffic stopped around the database.
# ``hosts``: the key of rollback_run naming the hosts the phase runs on. ``result``: the one variable the phase
# role sets (documented in its meta/argument_specs.yml). ``planned``: planned in check mode during preflight.
# ``restores``: the phase restores backups, so its plan also names the restore points it would use.
# ``plan_tasks_from``: the entry point that plans the phase, when not ``tasks_from`` (the traffic role's plan skips
# the maintenance endpoint's call, which check mode cannot make). The level includes each row through the phase
# role's entry points that scripts/phase_entry_points.py writes from this table (run_<name>.yml, plan_<name>.yml).
PHASES = (
    dict(name="traffic_stop", level=3, role="rollback.core.traffic", tasks_from="stop", result="traffic_result",
         hosts="traffic", planned=True, plan_tasks_from="plan_stop"),
    dict(name="database", level=3, role="rollback.core.database", tasks_from="main", result="database_result",
         hosts="databases", planned=True, restores=True),
    dict(name="config", level=2, role="rollback.core.config", tasks_from="main", result="config_result",
         hosts="services", planned=True, restores=True),
    dict(name="app", level=1, role="rollback.core.app", tasks_from="main", result="app_result",
         hosts="services", planned=True),
    dict(name="traffic_resume", level=3, role="rollback.core.traffic", tasks_from="resume", result="traffic_result",
         hosts="traffic", planned=True, plan_tasks_from="plan_resume"),
    # In check mode nothing was rolled back: there is nothing to verify. Services only stopped and resumed (not
    # selected) are not verified: their resume waited until they were ready, and they run what they ran before.
    dict(name="verify", level=1, role="rollback.core.verify", tasks_from="main", result="verify_result",
         hosts="services", planned=False),
)

# How each target type's traffic stops at level 3 (rollback.core.traffic role); a service that has none of its
# type's ways is refused in preflight, never passed over.
TRAFFIC_WAYS = {
    "kubernetes": "scaled to 0 (count saved on the object)",
    "compose": "containers stopped",
    "server": "maintenance flag and units stopped",
    "swarm": "scaled to 0 (count saved on the service)",
    "bluegreen": "its nginx front answers 503",
    # Static files: a front (nginx), a target group (ALB) or the application's maintenance mode can stop them.
    "frontend": None,
}


def name_list(value):
    """Names given as a list, or as a comma/space/newline separated string (AWX multiselect)."""
    if value is None:
        return []
    if isinstance(value, string_types):
        return [item for item in value.replace(",", " ").split() if item]
    if isinstance(value, (list, tuple)):
        return [str(item).strip() for item in value if str(item).strip()]
    raise AnsibleFilterError("expected a list of names or a comma-separated string, got %s" % type(value).__name__)


def level_phases(level):
    """The rows of PHASES a level runs, in order."""
    try:
        level = int(level)
    except (TypeError, ValueError):
        raise AnsibleFilterError("level must be 1, 2 or 3, got %r" % (level,))
    if level not in (1, 2, 3):
        raise AnsibleFilterError("level must be 1, 2 or 3, got %r" % (level,))
    return [dict(row) for row in PHASES if row["level"] <= level]


def level_rows(run, planning=False, host=None):
    """The rows of ``run['phases']`` the level includes: the planned ones when planning, and never a row whose
    hosts key names no host of the run. Every host includes the same rows (lockstep, roles/level/tasks/rows.yml);
    a row no host would do is dropped for all of them instead of being skipped on each (issue 22).
    ``host`` (planning only): just the rows that host takes part in. The planning play runs each host at its own pace
    (strategy free, nothing changes): there is no lockstep to keep, and a row skipped inside costs four task runs."""
    if host is not None and not planning:
        raise AnsibleFilterError("level_rows: host is for planning only: the rollback keeps every row on every host "
                                 "so the phases run in lockstep")
    return [dict(row) for row in run.get("phases") or []
            if (row.get("planned") or not planning) and run.get(row["hosts"])
            and (host is None or host in run[row["hosts"]])]


def _ordered(names, order):
    wanted = set(names)
    return [name for name in order if name in wanted]


def _traffic_way(service):
    """How a service's traffic stops, or None when it has no way."""
    options = service.get("rollback_service_traffic") or {}
    if isinstance(options, Mapping) and (options.get("nginx") or options.get("alb")):
        return "its front answers 503 / its target group is drained"
    target = service.get("rollback_service_target")
    connection = service.get("rollback_service_connection") or {}
    if target == "bluegreen" and isinstance(connection, Mapping) and connection.get("conf_file"):
        return TRAFFIC_WAYS["bluegreen"]
    if target in ("bluegreen", "frontend"):
        # A front with no switch of its own shows the application's maintenance mode (runbook 004), if it has one.
        endpoint = service.get("rollback_maintenance_endpoint") or {}
        return "the application's maintenance mode" if isinstance(endpoint, Mapping) and endpoint.get(
            "enable_url") else None
    return TRAFFIC_WAYS.get(target)


def request_refusal(request, services, databases):
    """The first reason to refuse the request itself, or ``""``: one clear message, before anything is looked up.

    ``request``: level (text), services and databases asked for (lists), confirm_data_loss, require_confirmation,
    confirm (booleans as Ansible reads them) and environment. ``services``, ``databases``: the inventory's
    rollback_services and rollback_databases groups.
    """
    level = str(request.get("level")).strip()
    unknown = [name for name in request.get("services") or [] if name not in services]
    unknown_databases = [name for name in request.get("databases") or [] if name not in databases]
    if level not in ("1", "2", "3"):
        return ("level must be 1 (application), 2 (+ configuration) or 3 (+ database), got '%s': nothing was "
                "changed. Example: -e level=1" % level)
    if unknown:
        return ("service(s) %s not in the inventory's rollback_services group (%s): nothing was changed"
                % (", ".join(unknown), ", ".join(services)))
    if unknown_databases:
        return ("database(s) %s not in the inventory's rollback_databases group (%s): nothing was changed"
                % (", ".join(unknown_databases), ", ".join(databases)))
    if not (request.get("services") or services):
        return "the inventory has no host in the rollback_services group and no service was given"
    if level == "3" and not boolean(request.get("confirm_data_loss"), strict=False):
        return ("level 3 restores the database from its last backup: data written since then is lost (the old "
                "database is kept, not dropped). Re-run with -e confirm_data_loss=true to accept (an AWX survey can "
                "pre-approve it). Nothing was changed.")
    if boolean(request.get("require_confirmation"), strict=False) and not boolean(request.get("confirm"), strict=False):
        return ("environment %s requires confirmation: re-run with -e confirm=true (the AWX survey's confirmation "
                "or the workflow's approval node). Nothing was changed." % request.get("environment"))
    return ""


def run_context(request, services, databases):
    """``rollback_run`` from the request and the inventory, or the refusals that stop it.

    ``request``: id, level, environment, operator, reason, started, check_mode, canary, services and databases
    asked for (lists). ``services``: ``{name: hostvars}`` of every host of rollback_services; ``databases``: the
    names of rollback_databases. Returns ``dict(run=..., errors=[...], warnings=[...])``.
    """
    level = int(request["level"])
    service_order = list(services)
    errors, warnings = [], []
    claims = {}
    for name in service_order:
        claimed = name_list(services[name].get("rollback_service_databases") or [])
        unknown = [db for db in claimed if db not in databases]
        if unknown:
            errors.append("%s: rollback_service_databases names %s, not in the inventory's rollback_databases (%s)"
                          % (name, ", ".join(unknown), ", ".join(databases) or "none"))
        claims[name] = [db for db in claimed if db in databases]
    selected = _ordered(request.get("services") or service_order, service_order)
    asked_databases = list(request.get("databases") or [])
    restored, blast_radius, traffic = [], [], []
    if level == 3:
        if asked_databases:
            restored = _ordered(asked_databases, databases)
            for db in restored:
                if not any(db in claims[name] for name in service_order):
                    warnings.append("%s: no service declares it in rollback_service_databases; restored because "
                                    "-e databases names it, no other service's traffic is stopped for it" % db)
        else:
            restored = _ordered([db for name in selected for db in claims[name]], databases)
            if not restored:
                errors.append("level 3 restores the databases of the selected services, but %s declare%s none "
                              "(rollback_service_databases) and -e databases names none: declare them in the "
                              "inventory or name the databases with -e databases=" % (
                                  ", ".join(selected), "s" if len(selected) == 1 else ""))
        for name in service_order:
            uses = [db for db in claims[name] if db in restored]
            if name in selected or uses:
                blast_radius.append(dict(service=name, selected=name in selected, databases=uses))
        traffic = [entry["service"] for entry in blast_radius]
        for name in selected:
            app = services[name].get("rollback_service_app") or {}
            if services[name].get("rollback_service_target") == "swarm" and not (
                    isinstance(app, Mapping) and app.get("image")):
                # Once scaled to 0, the service's previous spec is the one before the stop: "docker service
                # rollback" would undo the stop, not the release.
                errors.append("%s (target swarm) needs rollback_service_app.image at level 3: after its traffic is "
                              "stopped, its previous spec is the stop itself" % name)
        for name in traffic:
            if _traffic_way(services[name]) is None:
                errors.append("%s (target %s) has no way to stop its traffic at level 3: give "
                              "rollback_service_traffic.nginx (its nginx front) or .alb (its ALB target group), or "
                              "rollback_maintenance_endpoint (the application's maintenance mode)"
                              % (name, services[name].get("rollback_service_target")))
    affected = _ordered(selected + traffic, service_order)
    canary = int(request.get("canary") or 0)
    run = dict(
        id=request["id"], level=level, phases=level_phases(level), environment=request["environment"],
        operator=request["operator"], reason=request["reason"], started=request["started"],
        check_mode=bool(request.get("check_mode")), services=selected, databases=restored,
        blast_radius=blast_radius, traffic=traffic, hosts=restored + affected,
        # What the selected services use, restored or not: preflight checks their migrations at every level.
        databases_in_use=_ordered([db for name in selected for db in claims[name]] + restored, databases),
        # A canary batch first, levels 1 and 2 only: level 3 stops all traffic before the database.
        serial=[canary, "100%"] if canary > 0 and level != 3 else ["100%"],
    )
    return dict(run=run, errors=errors, warnings=warnings)


def blast_radius_text(run):
    """One line per database for preflight and the report: what is restored and whose traffic stops."""
    if int(run["level"]) != 3:
        return []
    lines = []
    for db in run["databases"]:
        users = [entry["service"] + ("" if entry["selected"] else " (not selected)")
                 for entry in run["blast_radius"] if db in entry["databases"]]
        lines.append("%s restored; used by %s" % (db, ", ".join(users) or "no declared service"))
    others = [entry["service"] for entry in run["blast_radius"] if not entry["databases"]]
    if others:
        lines.append("selected, using none of them: %s" % ", ".join(others))
    lines.append("traffic stopped until the restore is done: %s" % (", ".join(run["traffic"]) or "none"))
    return lines


def unwritable_dirs(paths):
    """The directories of ``paths`` this controller could neither write nor create (nearest existing parent)."""
    refused = []
    for path in paths:
        probe = os.path.abspath(os.path.expanduser(str(path)))
        while not os.path.exists(probe) and os.path.dirname(probe) != probe:
            probe = os.path.dirname(probe)
        if not os.path.isdir(probe) or not os.access(probe, os.W_OK | os.X_OK):
            refused.append(str(path))
    return refused


def run_failures(hostvars, hosts):
    """The phase failures recorded on ``hosts`` (rollback.core.phase's ``_phase_failure``); hosts without records
    (a host that failed before its records started) have none."""
    failures = []
    for host in hosts or []:
        try:
            failure = hostvars[host].get("_phase_failure")
        except KeyError:
            failure = None
        if failure:
            failures.append(failure)
    return failures


class FilterModule(object):
    def filters(self):
        return dict(name_list=name_list, level_phases=level_phases, request_refusal=request_refusal,
                    run_context=run_context, blast_radius_text=blast_radius_text, unwritable_dirs=unwritable_dirs,
                    run_failures=run_failures, level_rows=level_rows)
