# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Typed option dicts: which module each inventory option dict feeds, read from the modules' own documentation.

The inventory gives modules' options as dicts (``rollback_service_app``, ``rollback_database_restore``, ...).
``WIRING`` says, per variable and target type, which modules receive the dict, which keys are the roles' own
and which keys the roles set themselves. From it and each module's DOCUMENTATION (which ansible-test's
validate-modules keeps equal to the module's argument spec):

- ``module_args`` (filter): the keys of a dict one module accepts, for ``module_defaults`` in the roles;
- ``option_errors`` (filter): preflight's refusal of unknown keys and wrong types, naming host, variable and key;
- ``host_modules`` (filter): the modules a host of the run will run at its level (for the library check);
- ``app_call``, ``database_call``, ``config_calls`` and ``traffic_calls`` (filters): the module and arguments that
  roll a service back on its target, restore a database, restore each configuration source, stop or resume each
  way of a service's traffic (one task for all hosts, whatever their target);
- ``role_option_specs()``: the nested ``options`` of the roles' argument specs (scripts/role_option_specs.py).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.parameters import DEFAULT_TYPE_VALIDATORS

from ansible_collections.rollback.core.plugins.plugin_utils import controller_python

COLLECTION = "rollback.core"

# Keys of a role's own (never passed to a module as such), with their types.
ROLE_KEYS = {
    "bluegreen_app": dict(to_color=dict(type="str"), to_version=dict(type="str"), to_target_group=dict(type="str")),
    # configmaps/secrets: what rollback.core.backup takes of a kubernetes source (the restore reads its backup).
    "config_source": dict(type=dict(type="str", choices=["etcd", "kubernetes", "env_file"]),
                          configmaps=dict(type="list", elements="str"), secrets=dict(type="list", elements="str")),
    "migrations": dict(stamp_after_restore=dict(type="bool"), stamp_revision=dict(type="str")),
    "cache": dict(name=dict(type="str")),
}

# Keys the roles set themselves: in a dict they would be silently overridden, so they are refused.
WAIT = ("wait", "wait_timeout")
RESERVED = {
    "rollout_undo": ("platform", "run_id") + WAIT,
    "traffic": ("platform", "state", "reason") + WAIT,
    "swarm_service_rollback": ("previous",) + WAIT,
    "nginx_traffic": ("state", "reason", "active_color", "expected_version") + WAIT,
    "alb_traffic": ("state", "forward_to") + WAIT,
    "frontend_restore": WAIT,
    "etcd_config_restore": (),
    "k8s_config_restore": WAIT,
    "env_file_restore": WAIT,
    "postgres_restore": (),
    "rds_snapshot_restore": ("wait",),  # wait_timeout: per database (RDS steps take far longer)
    "migration_status": ("state", "revision", "allow_downgrade"),
    "cache_invalidate": (),
    "backup": ("action", "owner", "restore_point", "deploy_id", "manifest_dir", "kind", "keep", "keep_days", "deep",
               "verify", "marker_dir", "version", "services", "backups", "storage", "sse", "sse_kms_key_id") + WAIT,
    "rollback_lock": ("name", "run_id", "state", "owner", "info", "ttl", "backend", "lock_dir", "force"),
}

APP_MODULES = {
    "kubernetes": ["rollout_undo"], "compose": ["rollout_undo"], "server": ["rollout_undo"],
    "swarm": ["swarm_service_rollback"], "bluegreen": ["nginx_traffic", "alb_traffic"],
    "frontend": ["frontend_restore"],
}
TRAFFIC_MODULES = {"kubernetes": ["traffic"], "compose": ["traffic"], "server": ["traffic"], "swarm": ["traffic"]}
CONFIG_MODULES = {"etcd": "etcd_config_restore", "kubernetes": "k8s_config_restore", "env_file": "env_file_restore"}
DATABASE_MODULES = {"postgres": "postgres_restore", "rds": "rds_snapshot_restore"}
NESTED_TRAFFIC = {"nginx": "nginx_traffic", "alb": "alb_traffic"}


def app_module(target, app):
    """The module that rolls a service of this target back (blue/green: the ALB when a listener is given)."""
    if target == "bluegreen":
        return "alb_traffic" if app.get("listener_arn") else "nginx_traffic"
    modules = APP_MODULES.get(target)
    if not modules:
        raise AnsibleFilterError("unknown target %r: one of %s" % (target, ", ".join(sorted(APP_MODULES))))
    return modules[0]


def app_call(app, target, name, wait_timeout, run_id=None):
    """``{module, args}`` for rollback.core.target_module: the app dict's keys the module takes (module_args) and
    the keys the role sets itself, which win (they are reserved: preflight refuses them in the dict). ``run_id``
    goes into rollout_undo's undo record."""
    app = dict(app or {})
    module = app_module(target, app)
    wait = dict(wait_timeout=wait_timeout)
    if module == "rollout_undo":
        own = dict(platform=target, name=app.get("name", name), **wait)
        if run_id:
            own["run_id"] = run_id
    elif module == "swarm_service_rollback":
        own = dict(name=app.get("name", name), previous="image" not in app, **wait)
    elif module == "nginx_traffic":
        own = dict(active_color=_needed(app, "to_color", name, target), **wait)
        if app.get("to_version") is not None:
            own["expected_version"] = app["to_version"]
    elif module == "alb_traffic":
        own = dict(forward_to=_needed(app, "to_target_group", name, target))
    else:
        own = dict(bucket=_needed(app, "bucket", name, target), **wait)
    return dict(module="%s.%s" % (COLLECTION, module), args=dict(module_args(app, module), **own))


def database_call(restore, database_type, created_before, wait_timeout, pitr_defaults=None):
    """``{module, args}`` for rollback.core.target_module: the restore of one database, PostgreSQL or RDS.

    RDS: ``latest`` unless a snapshot or a moment is named, and then only a snapshot taken before the deploy
    (``created_before``: the dict's own, else the role's); its own ``wait_timeout`` wins over the run's (RDS
    steps take far longer). PostgreSQL ``pitr``: ``pitr_defaults`` (target_time, marker_dir, services) fill the
    keys the dict does not set."""
    restore = dict(restore or {})
    module = DATABASE_MODULES.get(database_type)
    if module is None:
        raise AnsibleFilterError("unknown database type %r: one of %s" % (database_type,
                                                                          ", ".join(sorted(DATABASE_MODULES))))
    args = module_args(restore, module)
    if module == "postgres_restore":
        args["db"] = restore.get("db")
        if isinstance(restore.get("pitr"), Mapping):
            # The run's defaults (the deploy's time, the deploy markers) under the database's own pitr keys.
            defaults = dict((key, value) for key, value in (pitr_defaults or {}).items() if value not in (None, "", []))
            args["pitr"] = dict(defaults, **dict((k, v) for k, v in restore["pitr"].items() if v is not None))
        return dict(module="%s.%s" % (COLLECTION, module), args=args)
    latest = restore.get("latest")
    if latest is None:
        latest = (restore.get("db_snapshot_identifier") is None and restore.get("restore_time") is None
                  and not _true(restore.get("use_latest_restorable_time")))
    args.update(latest=_true(latest), wait_timeout=restore.get("wait_timeout", wait_timeout))
    if args["latest"]:
        args["created_before"] = restore.get("created_before", created_before)
    return dict(module="%s.%s" % (COLLECTION, module), args=args)


def config_calls(sources, connection, decrypt_identity, wait_timeout):
    """``calls`` for rollback.core.target_module: one per configuration source, in the sources' order, each the
    restore module of its type with the source's keys it takes, the identity for encrypted backups (a source's own
    wins) and, for the modules that wait, the role's ``wait_timeout``; a Kubernetes source also takes the
    service's connection keys (kubeconfig, context, ...) under its own. Each result carries the source's type."""
    calls = []
    for index, source in enumerate(sources or []):
        source_type = source.get("type") if isinstance(source, Mapping) else None
        module = CONFIG_MODULES.get(source_type)
        if module is None:
            raise AnsibleFilterError("configuration source %d: type must be etcd, kubernetes or env_file, got %s"
                                     % (index, source_type or "nothing"))
        args = dict(decrypt_identity=decrypt_identity) if decrypt_identity else {}
        if module == "k8s_config_restore":
            args.update(module_args(connection, module))
        args.update(module_args(source, module))
        if "wait_timeout" in module_options(module):
            args["wait_timeout"] = wait_timeout
        calls.append(dict(module="%s.%s" % (COLLECTION, module), args=args, result=dict(source=source_type)))
    return calls


# Each way a service's traffic is stopped and resumed (the maintenance endpoint aside: an HTTP call once per batch,
# in the traffic role): its module and the state it is given, in the order of a stop (the service's ways from the
# outside in) and of a resume (the service itself first, then its front ways as a stop had them).
TRAFFIC_WAYS = dict(alb=("alb_traffic", dict(stopped="drained", started="restored")),
                    nginx=("nginx_traffic", dict(stopped="maintenance", started="live")),
                    platform=("traffic", dict(stopped="stopped", started="started")))
TRAFFIC_ORDER = dict(stopped=("alb", "nginx", "platform"), started=("platform", "alb", "nginx"))


def traffic_ways(options, target, connection):
    """The ways this service's traffic has (keys of TRAFFIC_WAYS): an ALB target group when its traffic options
    name one, an nginx front when they name one or when it is a blue/green service switched by nginx (its
    connection's ``conf_file``: a blue/green service behind an ALB has no nginx front, and nginx_traffic requires
    conf_file), the platform for the targets rollback.core.traffic knows. One decision for the calls and for
    preflight's library check (host_modules)."""
    options, connection = options or {}, connection or {}
    return (["alb"] if "alb" in options else []) + (
        ["nginx"] if "nginx" in options or target == "bluegreen" and connection.get("conf_file") else []) + (
        ["platform"] if target in TRAFFIC_MODULES else [])


def traffic_calls(options, target, name, connection, state, reason, wait_timeout, expected_version=""):
    """``calls`` for rollback.core.target_module: the module of each way the service's traffic has (its ALB target
    group, its nginx front, the platform itself), in the order of a stop (``state`` stopped) or of a resume
    (``started``), as the traffic role's way tasks called them one after the other. Each result carries its way."""
    if state not in ("stopped", "started"):
        raise AnsibleFilterError("traffic_calls: state must be stopped or started, got %s" % state)
    options, connection = dict(options or {}), dict(connection or {})
    ways = traffic_ways(options, target, connection)
    calls = []
    for way in [way for way in TRAFFIC_ORDER[state] if way in ways]:
        module, states = TRAFFIC_WAYS[way]
        if way == "alb":
            args = module_args(options["alb"], module)
        elif way == "nginx":
            args = module_args(dict(connection if target == "bluegreen" else {}, **dict(options.get("nginx") or {})),
                               module)
            args["reason"] = reason
            if state == "started" and expected_version:
                args["expected_version"] = expected_version
        else:
            service = dict(connection, **options)
            args = module_args(service, module)
            args.update(platform=target, name=service["name"] if "name" in service else name, reason=reason)
        args.update(state=states[state], wait_timeout=wait_timeout)
        calls.append(dict(module="%s.%s" % (COLLECTION, module), args=args, result=dict(way=way)))
    return calls


def _true(value):
    return value is True or str(value).lower() in ("true", "yes", "1", "on")


def _needed(app, key, name, target):
    if app.get(key) in (None, ""):
        raise AnsibleFilterError("%s: a %s service needs %s in rollback_service_connection or rollback_service_app"
                                 % (name, target, key))
    return app[key]


def _docs_options(module):
    from ansible.plugins.loader import fragment_loader, module_loader
    from ansible.utils.plugin_docs import get_docstring

    context = module_loader.find_plugin_with_context("%s.%s" % (COLLECTION, module))
    if not context.resolved:
        raise AnsibleFilterError("module %s.%s not found" % (COLLECTION, module))
    doc = get_docstring(context.plugin_resolved_path, fragment_loader, collection_name=COLLECTION)[0]
    return doc.get("options") or {}


_CACHE = {}


def module_options(module):
    """``{option: spec}`` of ``rollback.core.<module>`` (type, elements, choices, nested options) from its docs."""
    if module not in _CACHE:
        _CACHE[module] = _specs(_docs_options(module))
    return _CACHE[module]


def _specs(doc_options):
    specs = {}
    for name, doc in doc_options.items():
        spec = dict(type=doc.get("type", "str"))
        for key in ("elements", "choices"):
            if doc.get(key) is not None:
                spec[key] = list(doc[key]) if key == "choices" else doc[key]
        if doc.get("suboptions"):
            spec["options"] = _specs(doc["suboptions"])
        specs[name] = spec
    return specs


def accepted(module, role_keys=None):
    """Options of ``module`` a dict may give (the roles' own keys included, the reserved ones left out).

    Each spec names where the key goes (``modules``: the module, or ``role`` for the role's own keys).
    """
    specs = dict((k, dict(v, modules=[module])) for k, v in module_options(module).items()
                 if k not in RESERVED.get(module, ()))
    for key, spec in (ROLE_KEYS.get(role_keys, {}) if role_keys else {}).items():
        specs[key] = dict(spec, modules=["role"])
    return specs


def _union(*spec_maps):
    """One spec per key over several modules: types that differ become ``raw``, differing choices are dropped."""
    merged = {}
    for specs in spec_maps:
        for key, spec in specs.items():
            if key not in merged:
                merged[key] = dict(spec)
                continue
            modules = sorted(set(merged[key].get("modules", [])) | set(spec.get("modules", [])))
            mine = dict((k, v) for k, v in merged[key].items() if k != "modules")
            theirs = dict((k, v) for k, v in spec.items() if k != "modules")
            if mine.get("type") != theirs.get("type"):
                mine = dict(type="raw")
            elif mine != theirs:
                mine = dict((k, v) for k, v in mine.items() if theirs.get(k) == v)
            merged[key] = dict(mine, modules=modules)
    return merged


def module_args(options, module, rename=None):
    """The keys of ``options`` that ``rollback.core.<module>`` accepts, renamed by ``rename`` ({from: to}).

    A dict shared by several modules (a service's connection) gives each only its own keys; unknown keys were
    refused in preflight (option_errors) and by the roles' argument specs.
    """
    if options is None:
        return {}
    if not isinstance(options, Mapping):
        raise AnsibleFilterError("module_args expects a dict of %s options, got %s" % (module, type(options).__name__))
    renamed = dict(((rename or {}).get(key, key), value) for key, value in options.items())
    allowed = set(module_options(module)) - set(RESERVED.get(module, ()))
    return dict((key, value) for key, value in renamed.items() if key in allowed)


# What each inventory variable of a host feeds, as {variable: (kind, specs)} for that host.

# rollout_undo and traffic serve several platforms: the keys only one platform uses (from their docs), refused for
# the others' services.
PLATFORM_ONLY = {
    "kubernetes": {"kind", "namespace", "kubeconfig", "context", "host", "api_key", "validate_certs", "to_revision"},
    "compose": {"project_src", "files", "project_name", "services", "to_version"},
    "server": {"releases_dir", "repo_dir", "units", "before_start", "maintenance_file", "to_version"},
    "swarm": {"docker_host"},
}


def for_platform(specs, target):
    others = set().union(*[keys for platform, keys in PLATFORM_ONLY.items() if platform != target])
    foreign = others - PLATFORM_ONLY.get(target, set())
    return dict((key, spec) for key, spec in specs.items() if key not in foreign)


def service_specs(target):
    """``{variable: (kind, specs, what)}`` of a service of ``target``; kind ``dict`` or ``list``."""
    app = APP_MODULES.get(target, [])
    app_keys = {"bluegreen": "bluegreen_app"}.get(target)
    app_specs = _union(*[for_platform(accepted(m, app_keys), target) if m == "rollout_undo" else accepted(m, app_keys)
                         for m in app])
    traffic = _union(*[for_platform(accepted(m), target) for m in TRAFFIC_MODULES.get(target, [])])
    for key, module in NESTED_TRAFFIC.items():
        traffic[key] = dict(type="dict", options=accepted(module))
    connection = _union(app_specs, traffic)
    for key in NESTED_TRAFFIC:
        connection.pop(key, None)
    for key in ("to_color", "to_version", "to_target_group"):
        connection.pop(key, None)
    smoke = module_options("smoke_check")
    return {
        "rollback_service_connection": ("dict", connection, " / ".join(app + TRAFFIC_MODULES.get(target, []))),
        "rollback_service_app": ("dict", app_specs, " / ".join(app)),
        "rollback_service_traffic": ("dict", traffic, "traffic (with nginx: nginx_traffic, alb: alb_traffic)"),
        "rollback_service_config": ("config", None, "etcd_config_restore / k8s_config_restore / env_file_restore"),
        "rollback_service_checks": ("list", smoke["checks"]["options"], "smoke_check checks"),
        "rollback_service_metrics": ("list", smoke["metrics"]["options"], "smoke_check metrics"),
    }


def config_source_specs(source_type):
    module = CONFIG_MODULES.get(source_type)
    if not module:
        return None
    specs = accepted(module)
    specs.update(ROLE_KEYS["config_source"])
    return specs


def database_specs(db_type):
    module = DATABASE_MODULES.get(db_type)
    restore = accepted(module) if module else {}
    return {
        "rollback_database_restore": ("dict", restore, module or "?"),
        "rollback_database_migrations": ("dict", accepted("migration_status", "migrations"), "migration_status"),
        "rollback_database_caches": ("list", accepted("cache_invalidate", "cache"), "cache_invalidate"),
    }


# Validation, without ever showing a value (they may be secrets).

def _type_error(value, spec):
    kind = spec.get("type", "str")
    if kind == "raw" or value is None:
        return None
    try:
        converted = DEFAULT_TYPE_VALIDATORS[kind](value)
    except (TypeError, ValueError):
        return "expected %s%s" % (kind, " of %s" % spec["elements"] if spec.get("elements") else "")
    if spec.get("choices") and kind != "list" and converted not in spec["choices"]:
        return "must be one of %s" % ", ".join(str(c) for c in spec["choices"])
    return None


def validate(value, specs, where, what):
    """Problems of a dict against ``specs``: unknown keys, wrong types, nested dicts and lists of dicts."""
    if value is None:
        return []
    if not isinstance(value, Mapping):
        return ["%s: expected a dict of %s options" % (where, what)]
    errors = []
    unknown = sorted(key for key in value if key not in specs)
    if unknown:
        errors.append("%s: unknown key%s %s (%s takes %s)" % (
            where, "s" if len(unknown) > 1 else "", ", ".join(unknown), what, ", ".join(sorted(specs))))
    for key in sorted(k for k in value if k in specs):
        spec, item = specs[key], value[key]
        problem = _type_error(item, spec)
        if problem:
            errors.append("%s.%s: %s" % (where, key, problem))
        elif spec.get("options") and spec.get("type") == "dict":
            errors.extend(validate(item, spec["options"], "%s.%s" % (where, key), what + " " + key))
        elif spec.get("options") and spec.get("elements") == "dict":
            for index, element in enumerate(DEFAULT_TYPE_VALIDATORS["list"](item)):
                errors.extend(validate(element, spec["options"], "%s.%s[%d]" % (where, key, index), what + " " + key))
    return errors


def _validate_list(value, specs_of, where, what):
    if value is None:
        return []
    if not isinstance(value, (list, tuple)):
        return ["%s: expected a list of %s" % (where, what)]
    errors = []
    for index, element in enumerate(value):
        here = "%s[%d]" % (where, index)
        if not isinstance(element, Mapping):
            errors.append("%s: expected a dict" % here)
            continue
        specs, label = specs_of(element)
        if specs is None:
            errors.append("%s: %s" % (here, label))
        else:
            errors.extend(validate(element, specs, here, label))
    return errors


# The host variables besides the option dicts that the phase roles take as options (their defaults), by type:
# checked here, once for the run's hosts, so that the planning play does not validate each phase role's options
# again on every host (issue 22; tests/unit/test_role_option_specs.py keeps this in step with the role specs).
HOST_VARIABLES = {
    "service": dict(rollback_service_name="str", rollback_service_environment="dict", rollback_wait_timeout="int",
                    rollback_backup_decrypt_identity="path", rollback_verify_rounds="int",
                    rollback_verify_interval="float", rollback_verify_consecutive_successes="int",
                    rollback_verify_max_failures="int", rollback_thresholds="dict"),
    "database": dict(rollback_database_environment="dict", rollback_wait_timeout="int",
                     rollback_backup_decrypt_identity="path", rollback_deployed_at="str",
                     rollback_deploy_marker_dir="str"),
}


def host_option_errors(name, hostvars, kind):
    """Problems of one service or database host's option dicts and typed variables."""
    errors = []
    if kind == "service":
        target = hostvars.get("rollback_service_target")
        if target not in APP_MODULES:
            return ["%s: rollback_service_target must be one of %s, got %s" % (
                name, ", ".join(sorted(APP_MODULES)), target if target is not None else "nothing")]
        variables = service_specs(target)
    else:
        db_type = hostvars.get("rollback_database_type")
        if db_type not in DATABASE_MODULES:
            return ["%s: rollback_database_type must be postgres or rds, got %s" % (
                name, db_type if db_type is not None else "nothing")]
        variables = database_specs(db_type)
    for variable, type_name in sorted(HOST_VARIABLES[kind].items()):
        problem = _type_error(hostvars[variable], dict(type=type_name)) if variable in hostvars else None
        if problem:
            errors.append("%s: %s: %s" % (name, variable, problem))
    for variable, (shape, specs, what) in sorted(variables.items()):
        if variable not in hostvars:
            continue
        value, where = hostvars[variable], "%s: %s" % (name, variable)
        if shape == "dict":
            errors.extend(validate(value, specs, where, what))
        elif shape == "list":
            errors.extend(_validate_list(value, lambda element, s=specs, w=what: (s, w), where, what))
        else:
            errors.extend(_validate_list(value, _config_specs, where, what))
    return errors


def _config_specs(element):
    specs = config_source_specs(element.get("type"))
    if specs is None:
        return None, "type must be etcd, kubernetes or env_file, got %s" % (element.get("type") or "nothing")
    return specs, CONFIG_MODULES[element["type"]]


# Environment-wide dicts the roles read themselves (no module takes them whole).
GLOBAL_DICTS = {
    "rollback_status_page": dict(url=dict(type="str"), token=dict(type="str"), method=dict(type="str"),
                                 component=dict(type="str"), statuses=dict(type="dict")),
    "rollback_maintenance_endpoint": dict(enable_url=dict(type="str"), disable_url=dict(type="str"),
                                          token=dict(type="str"), method=dict(type="str"), timeout=dict(type="int")),
}
LOCK_ETCD_KEYS = ("endpoints", "user", "password", "ca_cert", "client_cert", "client_key", "timeout", "key_prefix")


def lock_etcd_specs():
    return dict((k, dict(v, modules=["rollback_lock"])) for k, v in module_options("rollback_lock").items()
                if k in LOCK_ETCD_KEYS)


def option_errors(hostvars, run, controller="localhost"):
    """Every problem of the option dicts of the hosts of the run (and the environment's), one line each."""
    errors = []
    variables = hostvars[controller]
    for variable, specs in sorted(dict(GLOBAL_DICTS, rollback_lock_etcd=lock_etcd_specs()).items()):
        if variable in variables:
            errors.extend(validate(variables[variable], specs, variable, "the role"))
    for name in [host for host in run["hosts"] if host not in run["databases"]]:
        errors.extend(host_option_errors(name, hostvars[name], "service"))
    for name in run["databases"]:
        errors.extend(host_option_errors(name, hostvars[name], "database"))
    return errors


def host_modules(hostvars, run):
    """The rollback.core modules this host runs at the run's level, for preflight's library check.

    Names as rollback.core.module_requirements takes them: ``module`` or ``module:platform``.
    """
    name, phases = hostvars["inventory_hostname"], set(row["name"] for row in run["phases"])
    modules = set()
    if name in run["databases"]:
        modules.add(DATABASE_MODULES.get(hostvars.get("rollback_database_type"), "postgres_restore"))
        if hostvars.get("rollback_database_migrations"):
            modules.add("migration_status")
        if hostvars.get("rollback_database_caches"):
            modules.add("cache_invalidate")
    target = hostvars.get("rollback_service_target")
    connection = hostvars.get("rollback_service_connection") or {}
    if name in run["services"]:
        if target in ("kubernetes", "compose", "server"):
            modules.add("rollout_undo:" + target)
        elif target in APP_MODULES:
            modules.add(app_module(target, dict(connection, **(hostvars.get("rollback_service_app") or {}))))
        if "config" in phases:
            modules.update(CONFIG_MODULES.get(source.get("type"), "env_file_restore")
                           for source in hostvars.get("rollback_service_config") or [])
    if name in run["traffic"]:
        for way in traffic_ways(hostvars.get("rollback_service_traffic"), target, connection):
            modules.add("traffic:" + target if way == "platform" else TRAFFIC_WAYS[way][0])
    checks = hostvars.get("rollback_service_checks") or hostvars.get("rollback_service_metrics")
    if name in run["services"] and checks:
        modules.add("rollback_decision")  # it runs the smoke checks itself
    return sorted(modules)


def controller_hosts(hostvars, hosts):
    """The ``hosts`` whose rollback.core modules run in the controller's own Python (connection local, its
    interpreter, no become; plugins/plugin_utils/controller_python.py): preflight checks their libraries once, on
    localhost; every other host checks its own."""
    found = []
    for name in hosts or []:
        variables = hostvars[name]
        if controller_python.in_controller(variables.get("ansible_connection"), variables.get(
                "ansible_python_interpreter"), variables.get("ansible_become")):
            found.append(name)
    return found


# The nested options of the roles' argument specs (scripts/role_option_specs.py writes them, a unit test checks).

def _all_targets(variable):
    return _union(*[service_specs(target)[variable][1] for target in sorted(APP_MODULES)])


def role_option_specs():
    """``{role: {role option: spec with nested options}}`` for every option dict a role takes."""
    connection, app, traffic = (_all_targets(v) for v in (
        "rollback_service_connection", "rollback_service_app", "rollback_service_traffic"))
    config = _union(*[config_source_specs(t) for t in sorted(CONFIG_MODULES)])
    smoke = module_options("smoke_check")
    restore = _union(*[database_specs(t)["rollback_database_restore"][1] for t in sorted(DATABASE_MODULES)])
    lock = lock_etcd_specs()
    return {
        "app": dict(app_connection=dict(type="dict", options=connection), app_options=dict(type="dict", options=app)),
        "traffic": dict(traffic_connection=dict(type="dict", options=connection),
                        traffic_options=dict(type="dict", options=traffic),
                        traffic_maintenance_endpoint=dict(type="dict", options=dict(
                            (k, dict(v, modules=["role"])) for k, v in GLOBAL_DICTS[
                                "rollback_maintenance_endpoint"].items()))),
        "config": dict(config_sources=dict(type="list", elements="dict", options=config),
                       config_connection=dict(type="dict", options=connection)),
        "database": dict(database_restore=dict(type="dict", options=restore),
                         database_migrations=dict(type="dict", options=database_specs("postgres")[
                             "rollback_database_migrations"][1]),
                         database_caches=dict(type="list", elements="dict", options=database_specs("postgres")[
                             "rollback_database_caches"][1])),
        "verify": dict(verify_checks=dict(type="list", elements="dict", options=smoke["checks"]["options"]),
                       verify_metrics=dict(type="list", elements="dict", options=smoke["metrics"]["options"])),
        "drill": dict(drill_checks=dict(type="list", elements="dict", options=smoke["checks"]["options"])),
        "lock": dict(lock_etcd=dict(type="dict", options=lock)),
    }


class FilterModule(object):
    def filters(self):
        return dict(module_args=module_args, option_errors=option_errors, host_modules=host_modules, app_call=app_call,
                    database_call=database_call, config_calls=config_calls, traffic_calls=traffic_calls,
                    controller_hosts=controller_hosts)
