"""awx/controller.yml would load into a real AWX, offline: every call matches its awx.awx module, every name it
references is defined, and each object passes the checks AWX itself makes (tests/support/awx_rules.py cites them)."""

import datetime
import json
import os
import re
import shutil
import subprocess
import sys

import jinja2
import jinja2.meta
import pytest
import yaml

from support import awx_rules

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PYTHON = os.path.join(REPO, ".venv", "bin", "python") if os.path.exists(os.path.join(REPO, ".venv")) else sys.executable
RENDER = os.path.join(REPO, "tests", "support", "awx_render.py")
SETTINGS = [os.path.join(REPO, "awx", "settings.example.yml"), os.path.join(REPO, "awx", "secrets.example.yml")]
# What the playbooks read from a launch (roles/preflight/defaults/main.yml).
LAUNCH_VARIABLES = {"level", "services", "databases", "reason", "confirm", "confirm_data_loss", "operator"}
# Built into AWX: managed credential types and the approval node's pseudo template.
AWX_BUILTIN_CREDENTIAL_TYPES = set(awx_rules.MANAGED_CREDENTIAL_FIELDS)


def render(playbook):
    completed = subprocess.run([PYTHON, RENDER, playbook] + SETTINGS, capture_output=True, text=True, check=False,
                               cwd=REPO, env=dict(os.environ, PYTHONPATH=""))
    assert completed.returncode == 0, completed.stderr[-3000:]
    return json.loads(completed.stdout)


@pytest.fixture(scope="module")
def loaded():
    return render(os.path.join(REPO, "awx", "controller.yml"))


def objects(loaded, module):
    return [call["params"] for call in loaded["calls"] if call["module"] == module]


def by_name(loaded, module):
    return {params["name"]: params for params in objects(loaded, module)}


def inventory(environment):
    """The inventory as an AWX sync stores it: `ansible-inventory --list --export`, with no vault password."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_VAULT")}
    completed = subprocess.run([os.path.join(REPO, ".venv", "bin", "ansible-inventory"), "--list", "--export", "-i",
                                os.path.join(REPO, "inventories", environment)],
                               capture_output=True, text=True, check=False, cwd=REPO, env=env)
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout)


@pytest.fixture(scope="module")
def inventories():
    return {environment: inventory(environment) for environment in ("production", "staging")}


def test_every_call_matches_the_argument_spec_of_its_awx_awx_module(loaded):
    assert loaded["errors"] == []
    assert {call["module"] for call in loaded["calls"]} >= {
        "organization", "team", "credential_type", "credential", "execution_environment", "instance_group", "project",
        "inventory", "inventory_source", "notification_template", "job_template", "workflow_job_template",
        "schedule", "role"}


def test_a_parameter_the_module_does_not_have_is_caught(tmp_path):
    # A misspelt job template option, and a typo in a workflow node (a suboption the module's code leaves untyped).
    shutil.copytree(os.path.join(REPO, "awx"), tmp_path / "awx")
    objects_file = tmp_path / "awx" / "vars" / "objects.yml"
    text = objects_file.read_text().replace("    job_slice_count: 1\n", "    job_slices: 1\n", 1)
    objects_file.write_text(text.replace("        related:\n", "        relatd:\n"))
    errors = render(str(tmp_path / "awx" / "controller.yml"))["errors"]
    assert any("job_template: job_slices" in error for error in errors), errors
    assert any("workflow_nodes[0]: relatd" in error for error in errors), errors


def test_every_name_referenced_is_defined(loaded):
    defined = {module: set(by_name(loaded, module)) for module in (
        "organization", "team", "credential_type", "credential", "execution_environment", "instance_group",
        "project", "inventory", "notification_template", "job_template", "workflow_job_template")}
    defined["credential_type"] |= AWX_BUILTIN_CREDENTIAL_TYPES
    references = []
    for module, params_list in ((m, objects(loaded, m)) for m in {c["module"] for c in loaded["calls"]}):
        for params in params_list:
            for key in ("organization", "lookup_organization"):
                if key in params:
                    references.append(("organization", params[key]))
            for key, kind in (("credential_type", "credential_type"), ("project", "project"),
                              ("source_project", "project"), ("inventory", "inventory"),
                              ("execution_environment", "execution_environment"),
                              ("default_environment", "execution_environment"), ("team", "team"),
                              ("unified_job_template", "job_template")):
                if isinstance(params.get(key), str):
                    references.append((kind, params[key]))
            if module in ("project", "job_template", "inventory_source") and params.get("credential"):
                references.append(("credential", params["credential"]))
            for name in params.get("credentials") or []:
                references.append(("credential", name))
            for name in params.get("instance_groups") or []:
                references.append(("instance_group", name))
            for key in [k for k in params if k.startswith("notification_templates_")]:
                references += [("notification_template", name) for name in params[key]]
            for name in params.get("job_templates") or []:
                references.append(("job_template", name))
            for name in params.get("workflows") or []:
                references.append(("workflow_job_template", name))
            for node in params.get("workflow_nodes") or []:
                template = node["unified_job_template"]
                if template["type"] == "job_template":
                    references.append(("job_template", template["name"]))
                    references.append(("organization", template["organization"]["name"]))
                for related in (node.get("related") or {}).values():
                    identifiers = {n["identifier"] for n in params["workflow_nodes"]}
                    assert {n["identifier"] for n in related} <= identifiers, related
    undefined = [(kind, name) for kind, name in references if name not in defined[kind]]
    assert undefined == []
    assert len(references) > 60


def test_objects_load_in_dependency_order():
    with open(os.path.join(REPO, "awx", "controller.yml")) as handle:
        order = [next(k for k in task if k.startswith("awx.awx.")).rsplit(".", 1)[1]
                 for task in yaml.safe_load(handle)[0]["tasks"] if any(k.startswith("awx.awx.") for k in task)]
    before = [("organization", "team"), ("credential_type", "credential"), ("credential", "project"),
              ("execution_environment", "project"), ("project", "inventory_source"), ("inventory", "inventory_source"),
              ("instance_group", "inventory"), ("notification_template", "job_template"),
              ("job_template", "workflow_job_template"), ("job_template", "schedule"),
              ("workflow_job_template", "role")]
    assert [(a, b) for a, b in before if order.index(a) > order.index(b)] == []


def survey_specs(loaded):
    templates = objects(loaded, "job_template") + objects(loaded, "workflow_job_template")
    return {t["name"]: t["survey_spec"] for t in templates if t.get("survey_enabled")}


def test_surveys_pass_awx_rules_and_ask_what_the_playbooks_read(loaded, inventories):
    specs = survey_specs(loaded)
    assert len(specs) == 3
    for name, spec in specs.items():
        assert awx_rules.survey_spec_errors(spec) == [], name
        questions = {q["variable"]: q for q in spec["spec"]}
        assert set(questions) <= LAUNCH_VARIABLES, name
        environment = "production" if "production" in name else "staging"
        groups = inventories[environment]
        assert questions["level"]["choices"] == ["1", "2", "3"] and questions["level"]["default"] == "1"
        assert questions["services"]["type"] == "multiselect"
        assert sorted(questions["services"]["choices"]) == sorted(groups["rollback_services"]["hosts"])
        assert questions["databases"]["type"] == "multiselect"
        assert sorted(questions["databases"]["choices"]) == sorted(groups["rollback_databases"]["hosts"])
        assert questions["confirm_data_loss"]["default"] == "no", "data loss is never pre-accepted"
        assert questions["reason"]["required"] is True
        assert ("confirm" in questions) == (environment == "production")


def test_the_workflow_asks_the_production_templates_questions(loaded):
    workflow = by_name(loaded, "workflow_job_template")["rollback.core - production rollback with approval"]
    template = by_name(loaded, "job_template")["rollback.core - rollback production"]
    assert workflow["survey_spec"] == template["survey_spec"]


# Answers as AWX sends them from the UI or `awx job_templates launch --extra_vars`: multiple choice as the chosen
# string, multiselect as a JSON list (an empty selection is []), text as a string.
AWX_ANSWERS = {"level": "3", "services": ["api"], "databases": ["api-db"], "reason": "error rate 12% after 2.4.1",
               "confirm_data_loss": "yes", "confirm": "yes"}
# What docs/AWX.md and the README used to advertise for API/CLI launches.
OLD_DOCUMENTED = [("level", 1), ("confirm", True), ("confirm_data_loss", True), ("services", "api,web"),
                  ("services", "api\nweb")]


def test_answers_as_awx_sends_them_pass_and_the_old_documented_values_are_refused(loaded):
    spec = survey_specs(loaded)["rollback.core - rollback production"]
    assert awx_rules.survey_launch_errors(spec, AWX_ANSWERS) == []
    assert awx_rules.survey_launch_errors(spec, dict(AWX_ANSWERS, services=[], databases=[])) == []
    for variable, value in OLD_DOCUMENTED:
        assert awx_rules.survey_launch_errors(spec, dict(AWX_ANSWERS, **{variable: value})), (variable, value)
    missing_reason = {k: v for k, v in AWX_ANSWERS.items() if k != "reason"}
    assert awx_rules.survey_launch_errors(spec, missing_reason) == ["'reason' value missing"]


def test_job_templates_run_one_job_at_a_time_beyond_the_lock_ttl(loaded, inventories):
    with open(os.path.join(REPO, "roles", "lock", "defaults", "main.yml")) as handle:
        default_ttl = int(re.search(r"rollback_lock_ttl \| default\((\d+)\)", handle.read()).group(1))
    templates = by_name(loaded, "job_template")
    decision = templates.pop("rollback.core - automatic rollback decision")
    assert len(templates) == 3
    for name, template in templates.items():
        environment = "production" if "production" in name else "staging"
        ttl = inventories[environment]["all"]["vars"].get("rollback_lock_ttl", default_ttl)
        assert template["allow_simultaneous"] is False and template["job_slice_count"] == 1, name
        assert int(template["timeout"]) > int(ttl), "%s: AWX would kill it while its lock is still live" % name
        assert os.path.exists(os.path.join(REPO, template["playbook"])), template["playbook"]
        assert template["ask_variables_on_launch"] is False, name
        kinds = [c.rsplit(" ", 1)[1] for c in template["credentials"]]
        assert len(kinds) == len(set(kinds)), "AWX: Cannot assign multiple credentials of one type"
    # The only template that takes launch variables decides and never rolls back itself (no SSH, cloud, kubeconfig
    # or database credential), and it is the one the AWX rulebook launches.
    assert decision["playbook"] == "playbooks/auto_rollback.yml" and decision["ask_variables_on_launch"] is True
    assert not [c for c in decision["credentials"] if c.rsplit(" ", 1)[1] in ("SSH", "kubeconfig", "AWS", "PostgreSQL")]
    with open(os.path.join(REPO, "extensions", "eda", "rulebooks", "auto_rollback_awx.yml")) as handle:
        rulebook = yaml.safe_load(handle)
    launched = [rule["action"]["run_job_template"]["name"] for rule in rulebook[0]["rules"]
                if "run_job_template" in rule["action"]]
    assert launched[0] == "{{ rollback_awx_decision_template }}"
    production = templates["rollback.core - rollback production"]
    assert production["prevent_instance_group_fallback"] is True and production["instance_groups"]
    drill = templates["rollback.core - monthly drill (staging)"]
    assert drill["extra_vars"]["level"] == "3" and drill["extra_vars"]["confirm_data_loss"] is True


def test_workflow_approval_then_the_production_template(loaded):
    workflow = by_name(loaded, "workflow_job_template")["rollback.core - production rollback with approval"]
    nodes = {node["identifier"]: node for node in workflow["workflow_nodes"]}
    assert nodes["approve"]["unified_job_template"]["type"] == "workflow_approval"
    assert 0 < nodes["approve"]["unified_job_template"]["timeout"] <= 3600
    assert [n["identifier"] for n in nodes["approve"]["related"]["success_nodes"]] == ["rollback"]
    assert nodes["rollback"]["unified_job_template"]["name"] == "rollback.core - rollback production"
    assert workflow["organization"], "AWX refuses workflow nodes without the workflow's organization"
    assert workflow["notification_templates_approvals"]
    assert workflow["allow_simultaneous"] is False


def test_rbac_execute_workflow_approve_and_break_glass(loaded):
    roles = {(r["team"], r["role"]): r for r in objects(loaded, "role")}
    workflow = "rollback.core - production rollback with approval"
    production = "rollback.core - rollback production"
    assert workflow in roles[("On-call engineers", "execute")]["workflows"]
    assert production not in roles[("On-call engineers", "execute")].get("job_templates", [])
    assert workflow in roles[("Incident commanders", "approval")]["workflows"]
    executors = [team for (team, role), r in roles.items()
                 if role == "execute" and production in r.get("job_templates", [])]
    assert executors == ["Break-glass"]


def test_the_drill_schedule_meets_awx_rules_and_runs_the_first_tuesday(loaded):
    [schedule] = objects(loaded, "schedule")
    assert schedule["unified_job_template"] == "rollback.core - monthly drill (staging)"
    rrule = schedule["rrule"]
    assert awx_rules.rrule_errors(rrule) == []
    runs = awx_rules.parse_rrule(rrule).between(datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc),
                                                datetime.datetime(2026, 12, 31, tzinfo=datetime.timezone.utc))
    assert len(runs) == 12
    assert all(run.weekday() == 1 and run.day <= 7 and run.hour == 9 for run in runs)
    # The previous rrule: no INTERVAL and a numeric BYDAY prefix, both refused by AWX's serializer.
    old = awx_rules.rrule_errors("DTSTART:20260101T090000Z RRULE:FREQ=MONTHLY;BYDAY=1TU")
    assert any("INTERVAL" in e for e in old) and any("BYDAY" in e for e in old)
    assert any("naive" in e for e in awx_rules.rrule_errors("DTSTART:20260101T090000 RRULE:FREQ=MONTHLY;INTERVAL=1"))


def test_credential_types_and_credentials(loaded):
    types = by_name(loaded, "credential_type")
    for name, credential_type in types.items():
        assert awx_rules.credential_type_errors(credential_type) == [], name
    kubernetes = types["rollback.core Kubernetes"]["injectors"]
    assert kubernetes["env"]["K8S_AUTH_KUBECONFIG"] == "{{ tower.filename }}" and "template" in kubernetes["file"]
    assert types["rollback.core etcd"]["injectors"]["extra_vars"]["rollback_etcd_ca_cert"] == "{{ tower.filename }}"
    for name in ("rollback.core notification tokens", "rollback.core PostgreSQL", "rollback.core AWS"):
        public = ("access_key_id", "region", "password_variable")
        secrets = [f for f in types[name]["inputs"]["fields"] if f["id"] not in public]
        assert all(f.get("secret") for f in secrets), name
    # An injector that uses a field its type does not define is refused, as AWX refuses it.
    broken = dict(kubernetes=None, **types["rollback.core AWS"])
    broken["injectors"] = {"env": {"AWS_ACCESS_KEY_ID": "{{ acces_key_id }}"}}
    assert any("undefined field" in e for e in awx_rules.credential_type_errors(broken))
    assert awx_rules.credential_type_errors(dict(types["rollback.core AWS"], injectors={"env": {"PATH": "x"}}))
    for credential in objects(loaded, "credential"):
        kind = credential["credential_type"]
        if kind in types:
            fields = {f["id"] for f in types[kind]["inputs"]["fields"]}
            required = types[kind]["inputs"].get("required", [])
        else:
            fields, required = awx_rules.MANAGED_CREDENTIAL_FIELDS[kind], []
        assert awx_rules.credential_input_errors(fields, required, credential["inputs"]) == [], credential["name"]


def test_notification_templates(loaded):
    templates = by_name(loaded, "notification_template")
    for name, template in templates.items():
        assert awx_rules.notification_template_errors(template) == [], name
    events = set()
    for field in ("notification_templates_started", "notification_templates_success", "notification_templates_error",
                  "notification_templates_approvals"):
        workflow = by_name(loaded, "workflow_job_template")["rollback.core - production rollback with approval"]
        events |= {field} if workflow.get(field) else set()
    assert len(events) == 4, "started, approval pending, success and failure are all notified"
    assert awx_rules.notification_template_errors({"notification_type": "webhook",
                                                   "notification_configuration": {"url": "https://x"}})


def referenced_variables(value):
    found = set()
    if isinstance(value, dict):
        for item in value.values():
            found |= referenced_variables(item)
    elif isinstance(value, list):
        for item in value:
            found |= referenced_variables(item)
    elif isinstance(value, str) and "{{" in value:
        found |= jinja2.meta.find_undeclared_variables(jinja2.Environment().parse(value))
    return found


@pytest.mark.parametrize("environment", ["production", "staging"])
def test_inventory_syncs_without_a_vault_password_and_credentials_supply_its_secrets(loaded, inventories, environment):
    synced = inventories[environment]
    defined = set(synced["all"].get("vars", {}))
    for group in synced.values():
        if isinstance(group, dict):
            defined |= set(group.get("vars", {}))
    for hostvars in synced["_meta"]["hostvars"].values():
        defined |= set(hostvars)
    used = referenced_variables(synced)
    magic = {v for v in used if v.startswith("ansible_") or v in (
        "inventory_hostname", "inventory_dir", "hostvars", "groups", "lookup", "omit", "playbook_dir")}
    template = by_name(loaded, "job_template")["rollback.core - rollback %s" % environment]
    credentials = by_name(loaded, "credential")
    types = by_name(loaded, "credential_type")
    injected = set()
    for name in template["credentials"]:
        credential = credentials[name]
        for key in types.get(credential["credential_type"], {}).get("injectors", {}).get("extra_vars", {}):
            injected.add(jinja2.Environment().from_string(key).render(**credential["inputs"]))
    missing = used - defined - magic - LAUNCH_VARIABLES - injected
    # rollback_etcd_ca_cert is optional (a default path follows it); everything else must come from somewhere.
    assert missing == set(), "referenced by the inventory, supplied by nothing in AWX: %s" % sorted(missing)
    assert "vault_etcd_password" in injected and "rollback_etcd_ca_cert" in injected


def test_production_playbook_requires_confirmation():
    with open(os.path.join(REPO, "playbooks", "production.yml")) as handle:
        plays = yaml.safe_load(handle)
    assert plays[0]["ansible.builtin.import_playbook"] == "rollback.yml"
    assert plays[0]["vars"]["rollback_require_confirmation"] is True
