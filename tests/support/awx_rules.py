"""What AWX checks and does with the objects awx/controller.yml loads, written from AWX's source.

References are to github.com/ansible/awx at e21dd0a (24.6.x, the release awx.awx 24.6.1 drives); the rules are
re-stated here, not copied:
- survey spec on save: awx/api/views/__init__.py JobTemplateSurveySpec._validate_spec_data, with
  awx/main/constants.py SURVEY_TYPE_MAPPING;
- survey answers on launch: awx/main/models/mixins.py SurveyJobTemplateMixin._survey_element_validation,
  _update_unified_job_kwargs (JT extra vars < valid survey defaults < answers), _accept_or_ignore_variables;
- schedules: awx/api/serializers.py SchedulePreviewSerializer.validate_rrule and awx/main/models/schedules.py
  Schedule.rrulestr (dateutil, forceset, timezone-aware DTSTART);
- credential types: awx/main/fields.py CredentialTypeInputField, CredentialTypeInjectorField (schema, template
  variables, ENV_BLOCKLIST of awx/main/constants.py); credentials: CredentialInputField;
- notification templates: awx/api/serializers.py NotificationTemplateSerializer.validate / validate_messages and
  awx/main/notifications/webhook_backend.py init_parameters;
- job launch: awx/main/tasks/jobs.py RunJob.build_extra_vars_file, BaseTask._write_extra_vars_file with
  awx/main/utils/safe_yaml.py safe_dump (every string of a launch marked !unsafe unless it equals the job
  template's own extra var), awx/main/models/unified_jobs.py awx_meta_vars, and
  awx/main/models/credential.py CredentialType.inject_credential (file injectors -> a mkstemp file in env/ of the
  private data dir, referenced by its path inside the container; env injectors; extra_vars injectors -> a
  mkstemp file passed as `-e @<path>`).
"""

import os
import re
import stat
import tempfile

import dateutil.rrule
import jsonschema
import yaml
from jinja2 import StrictUndefined, UndefinedError, sandbox

SURVEY_TYPES = {"text": str, "textarea": str, "password": str, "multiplechoice": str, "multiselect": str,
                "integer": int, "float": (float, int)}
ENV_BLOCKLIST = {"VIRTUAL_ENV", "PATH", "PYTHONPATH", "JOB_ID", "INVENTORY_ID", "INVENTORY_SOURCE_ID",
                 "INVENTORY_UPDATE_ID", "AD_HOC_COMMAND_ID", "REST_API_URL", "REST_API_TOKEN", "MAX_EVENT_RES",
                 "CALLBACK_QUEUE", "CALLBACK_CONNECTION", "CACHE", "JOB_CALLBACK_DEBUG", "INVENTORY_HOSTVARS",
                 "AWX_HOST", "PROJECT_REVISION", "SUPERVISOR_CONFIG_PATH"}
# Fields of AWX's managed types the loader uses (awx-plugins' credential definitions: ssh and scm namespaces).
MANAGED_CREDENTIAL_FIELDS = {
    "Machine": {"username", "password", "ssh_key_data", "ssh_public_key_data", "ssh_key_unlock", "become_method",
                "become_username", "become_password"},
    "Source Control": {"username", "password", "ssh_key_data", "ssh_key_unlock"},
}
WEBHOOK_REQUIRED = {"url", "headers"}  # init_parameters without a default


def _choices(element):
    choices = element.get("choices", [])
    return [c for c in choices.splitlines() if c.strip()] if isinstance(choices, str) else list(choices)


def survey_spec_errors(spec):
    """Why AWX refuses to save this survey spec (empty: it accepts it)."""
    errors = []
    for field, kind in (("name", str), ("description", str), ("spec", list)):
        if not isinstance(spec.get(field), kind):
            errors.append("survey '%s' missing or not a %s" % (field, kind.__name__))
    if errors or not spec["spec"]:
        return errors or ["survey 'spec' has no question"]
    seen = set()
    for index, item in enumerate(spec["spec"]):
        for field, kind in (("type", str), ("question_name", str), ("variable", str), ("required", bool)):
            if not isinstance(item.get(field), kind):
                errors.append("question %d: '%s' missing or not a %s" % (index, field, kind.__name__))
        variable, qtype = item.get("variable"), item.get("type")
        if variable in seen:
            errors.append("question %d: variable %s duplicated" % (index, variable))
        seen.add(variable)
        if qtype not in SURVEY_TYPES:
            errors.append("question %d: type %r is not one of %s" % (index, qtype, sorted(SURVEY_TYPES)))
            continue
        if item.get("default", "") != "" and not isinstance(item["default"], SURVEY_TYPES[qtype]):
            errors.append("question %d (%s): default %r is not a %s" % (index, variable, item["default"], qtype))
        for key in ("min", "max"):
            if item.get(key) is not None and not isinstance(item[key], int):
                errors.append("question %d (%s): %s is not an integer" % (index, variable, key))
        if qtype in ("multiselect", "multiplechoice"):
            if "choices" not in item:
                errors.append("question %d (%s): no choices" % (index, variable))
                continue
            default = item.get("default")
            defaults = [d for d in default.splitlines() if d.strip()] if isinstance(default, str) else default or []
            if qtype == "multiplechoice" and len(defaults) > 1:
                errors.append("question %d (%s): multiple choice with several defaults" % (index, variable))
            if any(d not in item["choices"] for d in defaults):
                errors.append("question %d (%s): default %r not among the choices" % (index, variable, default))
    return errors


def survey_element_errors(element, data, validate_required=True):
    """Why AWX refuses this launch's value for one question (SurveyJobTemplateMixin._survey_element_validation)."""
    variable, qtype = element["variable"], element["type"]
    if variable not in data:
        return ["'%s' value missing" % variable] if element["required"] and validate_required else []
    value = data[variable]
    if qtype in ("text", "textarea", "password"):
        if not isinstance(value, str):
            return ["Value %s for '%s' expected to be a string." % (value, variable)]
        if element.get("min") not in ("", None) and len(value) < int(element["min"]):
            return ["'%s' value %s is too small" % (variable, value)]
        if element.get("max") not in ("", None) and len(value) > int(element["max"]):
            return ["'%s' value %s is too large" % (variable, value)]
    elif qtype in ("integer", "float"):
        if isinstance(value, bool) or not isinstance(value, int if qtype == "integer" else (int, float)):
            return ["Value %s for '%s' expected to be %s." % (value, variable, qtype)]
        if element.get("min") not in ("", None) and value < float(element["min"]):
            return ["'%s' value %s is too small" % (variable, value)]
        if element.get("max") not in ("", None) and value > float(element["max"]):
            return ["'%s' value %s is too large" % (variable, value)]
    elif qtype == "multiselect":
        if not isinstance(value, list):
            return ["'%s' value is expected to be a list." % variable]
        return ["Value %s for '%s' expected to be one of %s." % (v, variable, _choices(element))
                for v in value if v not in _choices(element)]
    elif qtype == "multiplechoice" and value not in _choices(element):
        return ["Value %s for '%s' expected to be one of %s." % (value, variable, _choices(element))]
    return []


def survey_launch_errors(spec, answers):
    errors = []
    for element in spec["spec"]:
        errors += survey_element_errors(element, answers)
    return errors


def job_extra_vars(template_extra_vars, spec, answers):
    """The job's extra vars: the template's, overridden by valid survey defaults, overridden by the answers."""
    extra_vars = dict(template_extra_vars or {})
    for element in (spec or {}).get("spec", []):
        default = element.get("default")
        if default is not None and not survey_element_errors(element, {element["variable"]: default}):
            extra_vars[element["variable"]] = default
    extra_vars.update(answers)
    return extra_vars


def rrule_errors(rrule):
    """Why AWX refuses this schedule rrule (SchedulePreviewSerializer.validate_rrule, Schedule.rrulestr)."""
    errors = []
    dtstarts = re.findall(r"DTSTART(?:;[^:]+)?:[0-9]+T[0-9]+Z?", rrule)
    if not dtstarts:
        errors.append("Valid DTSTART required")
    if re.search(r"DTSTART:[0-9]+T[0-9]+ ", rrule):
        errors.append("DTSTART cannot be a naive datetime")
    if len(dtstarts) > 1:
        errors.append("Multiple DTSTART is not supported")
    if "rrule:" not in rrule.lower():
        errors.append("One or more rule required")
    if "exdate:" in rrule.lower() or "rdate:" in rrule.lower():
        errors.append("EXDATE and RDATE not allowed")
    for rule in re.findall(r"RULE:\S*", rrule):
        if "interval" not in rule.lower():
            errors.append("INTERVAL required in rrule: " + rule)
        elif "secondly" in rule.lower():
            errors.append("SECONDLY is not supported: " + rule)
        if re.match(r".*?BYDAY[:=][0-9]+[a-zA-Z]{2}", rule):
            errors.append("BYDAY with numeric prefix not supported: " + rule)
        if "COUNT" in rule and "UNTIL" in rule:
            errors.append("RRULE may not contain both COUNT and UNTIL: " + rule)
        count = re.search(r"COUNT=([0-9]+)", rule)
        if count and int(count.group(1)) > 999:
            errors.append("COUNT > 999 is unsupported: " + rule)
    try:
        ruleset = parse_rrule(rrule)
        if any(r._dtstart.tzinfo is None for r in ruleset._rrule):
            errors.append("A valid TZID must be provided")
    except (ValueError, TypeError) as error:
        errors.append("rrule parsing failed validation: %s" % error)
    return errors


def parse_rrule(rrule):
    return dateutil.rrule.rrulestr(rrule, forceset=True)


CREDENTIAL_INPUTS_SCHEMA = {
    "type": "object", "additionalProperties": False,
    "properties": {
        "required": {"type": "array", "items": {"type": "string"}},
        "fields": {"type": "array", "items": {
            "type": "object", "additionalProperties": False, "required": ["id", "label"],
            "properties": {
                "type": {"enum": ["string", "boolean"]}, "format": {"enum": ["ssh_private_key", "url"]},
                "choices": {"type": "array", "minItems": 1, "items": {"type": "string"}, "uniqueItems": True},
                "id": {"type": "string", "pattern": "^[a-zA-Z_]+[a-zA-Z0-9_]*$"},
                "label": {"type": "string"}, "help_text": {"type": "string"}, "multiline": {"type": "boolean"},
                "secret": {"type": "boolean"}, "ask_at_runtime": {"type": "boolean"}, "default": {}}}}}}
CREDENTIAL_INJECTORS_SCHEMA = {
    "type": "object", "additionalProperties": False,
    "properties": {
        "file": {"type": "object", "additionalProperties": False,
                 "patternProperties": {r"^template(\.[a-zA-Z_]+[a-zA-Z0-9_]*)?$": {"type": "string"}}},
        "env": {"type": "object", "additionalProperties": False,
                "patternProperties": {"^[a-zA-Z_]+[a-zA-Z0-9_]*$": {"type": "string", "pattern": "^[\x00-\x7f]*$"}}},
        "extra_vars": {"type": "object", "additionalProperties": False,
                       "patternProperties": {r"^[a-zA-Z_\{\}]+[a-zA-Z0-9_\{\}]*$": {
                           "anyOf": [{"type": "string"}, {"type": "array"}, {"$ref": "#/properties/extra_vars"}]}}}}}


def credential_type_errors(credential_type):
    """Why AWX refuses this custom credential type (inputs and injectors)."""
    inputs, injectors = credential_type.get("inputs", {}), credential_type.get("injectors", {})
    errors = ["inputs: %s" % e.message
              for e in jsonschema.Draft4Validator(CREDENTIAL_INPUTS_SCHEMA).iter_errors(inputs)]
    errors += ["injectors: %s" % e.message
               for e in jsonschema.Draft4Validator(CREDENTIAL_INJECTORS_SCHEMA).iter_errors(injectors)]
    if credential_type.get("kind") not in ("cloud", "net"):
        errors.append("kind must be 'cloud' or 'net' for a custom type")
    ids = [field["id"] for field in inputs.get("fields", [])]
    if len(ids) != len(set(ids)) or "tower" in ids:
        errors.append("field ids must be unique and not 'tower': %s" % ids)
    for field in inputs.get("fields", []):
        kind = field.get("type", "string")
        if "default" in field and not isinstance(field["default"], {"string": str, "boolean": bool}[kind]):
            errors.append("%s: default is not a %s" % (field["id"], kind))
        for key in ("choices", "multiline", "format", "secret"):
            if key in field and kind != "string":
                errors.append("%s: %s not allowed for %s" % (field["id"], key, kind))
    if errors:
        return errors
    files = [name for name in injectors.get("file", {}) if name.startswith("template")]
    if "template" in files and len(files) > 1:
        errors.append("must use multi-file syntax when injecting multiple files")
    namespace = {field_id: "EXAMPLE" for field_id in ids}
    tower = type("Tower", (), {})()
    if "template" in files:
        tower.filename = "EXAMPLE_FILENAME"
    elif files:
        tower.filename = type("Files", (), {name.split(".", 1)[1]: "EXAMPLE_FILENAME" for name in files})()
    namespace["tower"] = tower
    environment = sandbox.ImmutableSandboxedEnvironment(undefined=StrictUndefined)

    def render(where, template):
        try:
            environment.from_string(template).render(namespace)
        except UndefinedError as error:
            errors.append("%s uses an undefined field (%s)" % (where, error))

    def walk(where, node):
        if isinstance(node, dict):
            for key, value in node.items():
                render("%s key %s" % (where, key), key)
                walk("%s.%s" % (where, key), value)
        elif isinstance(node, list):
            for index, value in enumerate(node):
                walk("%s[%d]" % (where, index), value)
        else:
            render(where, node)

    for kind, injector in injectors.items():
        if kind == "env":
            errors += ["env %s is not allowed in credentials" % name for name in injector
                       if name.startswith("ANSIBLE_") or name in ENV_BLOCKLIST]
        if kind == "extra_vars":
            walk("extra_vars", injector)
        else:
            for key, template in injector.items():
                render("%s.%s" % (kind, key), template)
    return errors


def credential_input_errors(fields, required, inputs):
    """Why AWX refuses these credential inputs for a type with these field ids (CredentialInputField)."""
    errors = ["unknown field %s" % name for name in inputs if name not in fields]
    return errors + ["required field %s missing" % name for name in required if not inputs.get(name)]


def notification_template_errors(template):
    errors = []
    if template["notification_type"] == "webhook":
        missing = WEBHOOK_REQUIRED - set(template.get("notification_configuration", {}))
        errors += ["missing required field %s" % name for name in sorted(missing)]
        if template["notification_configuration"].get("http_method", "POST").lower() not in ("post", "put"):
            errors.append("HTTP method must be either 'POST' or 'PUT'")
    for event, messages in (template.get("messages") or {}).items():
        if event not in ("started", "success", "error", "workflow_approval"):
            errors.append("event %s invalid" % event)
            continue
        groups = messages.values() if event == "workflow_approval" else [messages]
        for group in groups:
            for kind, text in group.items():
                if kind not in ("message", "body"):
                    errors.append("%s: message type %s invalid" % (event, kind))
                elif kind == "message" and "\n" in text:
                    errors.append("%s: messages cannot contain newlines" % event)
    return errors


class _UnsafeDumper(yaml.SafeDumper):
    def represent_data(self, data):
        if isinstance(data, str):
            return self.represent_scalar("!unsafe", data)
        return super().represent_data(data)


def awx_extravars_yaml(extra_vars, trusted=None):
    """env/extravars as AWX writes it: one document per key, !unsafe unless equal to the template's own value."""
    trusted = trusted or {}
    return "".join(
        yaml.dump_all([{key: value}], None, default_flow_style=False,
                      Dumper=yaml.SafeDumper if key in trusted and trusted[key] == value else _UnsafeDumper)
        for key, value in extra_vars.items())


def inject_credential(credential_type, inputs, private_data_dir, container_root):
    """Files, env and `-e @file` args the credential's custom type gives a job, paths as the container sees them.

    Returns (env, args). ``container_root`` is where the private data dir is mounted in the job's container
    (AWX: /runner).
    """
    fields = credential_type["inputs"].get("fields", [])
    namespace = {name: value for name, value in inputs.items() if value not in ("", None)}
    for field in fields:
        if field.get("type") == "boolean" and field["id"] not in inputs:
            namespace[field["id"]] = False
        if field.get("format") == "ssh_private_key" and field["id"] in namespace:
            namespace[field["id"]] = namespace[field["id"]].rstrip("\n") + "\n"
    environment = sandbox.ImmutableSandboxedEnvironment()
    tower = type("Tower", (), {})()
    namespace["tower"] = tower
    env_dir = os.path.join(private_data_dir, "env")

    def container_path(path):
        return os.path.join(container_root, os.path.relpath(path, private_data_dir))

    def new_file(data, mode):
        handle, path = tempfile.mkstemp(dir=env_dir)
        with os.fdopen(handle, "w") as stream:
            stream.write(data)
        os.chmod(path, mode)
        return path

    for label, template in credential_type["injectors"].get("file", {}).items():
        rendered = environment.from_string(template).render(**namespace)
        path = container_path(new_file(rendered, stat.S_IRUSR | stat.S_IWUSR))
        if "." not in label:
            tower.filename = path
        else:
            if not hasattr(tower, "filename"):
                tower.filename = type("Files", (), {})()
            setattr(tower.filename, label.split(".", 1)[1], path)
    env = {name: environment.from_string(template).render(**namespace)
           for name, template in credential_type["injectors"].get("env", {}).items()}

    def build(node):
        if isinstance(node, dict):
            return {build(k): build(v) for k, v in node.items()}
        if isinstance(node, list):
            return [build(v) for v in node]
        return environment.from_string(node).render(**namespace)

    args = []
    extra_vars = build(credential_type["injectors"].get("extra_vars", {}))
    if extra_vars:
        args = ["-e", "@" + container_path(new_file(awx_extravars_yaml(extra_vars), stat.S_IRUSR))]
    return env, args
