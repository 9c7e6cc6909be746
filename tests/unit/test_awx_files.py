"""The AWX job templates, surveys and execution environment match the playbooks and inventories they drive."""

import json
import os
import shutil
import subprocess

import pytest
import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SURVEY_TYPES = {"text", "textarea", "password", "integer", "float", "multiplechoice", "multiselect"}
# The variables the playbooks read from a launch (preflight and rollback.yml).
PLAYBOOK_VARIABLES = {"level", "services", "databases", "reason", "confirm", "confirm_data_loss", "operator"}


def load(*parts):
    with open(os.path.join(REPO, *parts)) as handle:
        return json.load(handle) if parts[-1].endswith(".json") else yaml.safe_load(handle)


def inventory_services(environment):
    return sorted(load("inventories", environment, "hosts.yml")["all"]["children"]["rollback_services"]["hosts"])


@pytest.mark.parametrize("environment", ["staging", "production"])
def test_survey_is_valid_and_matches_the_playbook(environment):
    survey = load("awx", "surveys", "rollback-%s.json" % environment)
    questions = dict((q["variable"], q) for q in survey["spec"])
    assert all(q["type"] in SURVEY_TYPES for q in survey["spec"])
    assert set(questions) <= PLAYBOOK_VARIABLES
    assert questions["level"]["type"] == "multiplechoice" and questions["level"]["choices"] == ["1", "2", "3"]
    assert questions["services"]["type"] == "multiselect"
    assert sorted(questions["services"]["choices"]) == inventory_services(environment)
    assert questions["confirm_data_loss"]["default"] == "no", "data loss is never pre-accepted by default"
    assert ("confirm" in questions) == (environment == "production")


def test_job_templates_point_at_existing_playbooks_and_surveys():
    config = load("awx", "job_templates.yml")
    for template in config["controller_templates"]:
        assert os.path.exists(os.path.join(REPO, template["playbook"])), template["playbook"]
        assert template["concurrent_jobs_enabled"] is False
        if template.get("survey_enabled"):
            path = template["survey_spec"].split("'")[3]
            assert os.path.exists(os.path.join(REPO, "awx", path))
    workflow = config["controller_workflows"][0]
    nodes = dict((n["identifier"], n) for n in workflow["simplified_workflow_nodes"])
    assert "approval_node" in nodes["approve"] and nodes["approve"]["success_nodes"] == ["rollback"]
    assert nodes["rollback"]["unified_job_template"] == "rollback.core - rollback production"


def test_production_playbook_requires_confirmation():
    plays = load("playbooks", "production.yml")
    assert plays[0]["ansible.builtin.import_playbook"] == "rollback.yml"
    assert plays[0]["vars"]["rollback_require_confirmation"] is True


def test_ansible_builder_creates_the_build_context_offline(tmp_path):
    builder = shutil.which("ansible-builder") or os.path.join(REPO, ".venv", "bin", "ansible-builder")
    completed = subprocess.run([builder, "create", "-f", os.path.join(REPO, "meta", "execution-environment.yml"),
                                "-c", str(tmp_path / "context")], capture_output=True, text=True, check=False)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    containerfile = (tmp_path / "context" / "Dockerfile").read_text()
    assert "ansible-core>=2.16,<2.20" in containerfile
    with open(os.path.join(REPO, "requirements.txt")) as handle:
        assert (tmp_path / "context" / "_build" / "requirements.txt").read_text() == handle.read()
    assert "rollback.core" in (tmp_path / "context" / "_build" / "requirements.yml").read_text()
