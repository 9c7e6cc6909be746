"""The integration tests marked no_lab run beside the lab's suite (./dev test), so they must not touch the lab.

./dev test runs ``tests/integration -m "not no_lab"`` against the lab in the foreground and ``-m no_lab`` in the
side lane at the same time. A marked test that deployed a release, ran a playbook on inventories/lab or read the
lab's facts would race the suite's tests on the same servers: this checks the marked files' code for that.
"""

import ast
import os
import re

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
INTEGRATION = os.path.join(REPO, "tests", "integration")
# A file's pytestmark or a single test's decorator: the whole file is then checked.
MARK = re.compile(r"\bmark\.no_lab\b")
# What reaches the lab's servers or state: its facts (the fixtures), a deploy, labctl, a playbook on the lab.
LAB_FIXTURES = {"lab", "level3_drill", "s3_db"}
LAB_CALLS = {"deploy_bad", "labctl", "run_playbook", "versions", "deploy_marker", "db_items"}


def marked_files():
    marked = []
    for name in sorted(os.listdir(INTEGRATION)):
        if name.startswith("test_") and name.endswith(".py"):
            with open(os.path.join(INTEGRATION, name)) as handle:
                if MARK.search(handle.read()):
                    marked.append(name)
    return marked


def lab_uses(source):
    """(line, what) for each use of the lab in a test file's code."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            found += [(node.lineno, "fixture " + a.arg) for a in node.args.args if a.arg in LAB_FIXTURES]
        elif isinstance(node, ast.Call):
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            if name in LAB_CALLS:
                found.append((node.lineno, name + "()"))
        elif isinstance(node, ast.Subscript) and getattr(node.value, "id", None) == "lab_env":
            found.append((node.lineno, "a lab fact from lab_env"))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and "inventories/lab" in node.value:
            found.append((node.lineno, "inventories/lab"))
    return found


def test_some_integration_tests_run_beside_the_suite():
    assert len(marked_files()) >= 5
    assert MARK.search("@pytest.mark.no_lab\ndef test_x():") and not MARK.search("pytest.mark.no_labels")


@pytest.mark.parametrize("name", marked_files())
def test_a_no_lab_test_file_uses_no_lab_service(name):
    with open(os.path.join(INTEGRATION, name)) as handle:
        assert lab_uses(handle.read()) == []


@pytest.mark.parametrize("source, what", [
    ("def test_x(lab, tmp_path):\n    pass\n", "fixture lab"),
    ("def test_x(lab_env):\n    deploy_bad(lab_env)\n", "deploy_bad()"),
    ("def test_x(lab_env):\n    run_playbook(lab_env, 'rollback.yml')\n", "run_playbook()"),
    ("def test_x(lab_env):\n    url = lab_env['LAB_PROMETHEUS_URL']\n", "a lab fact from lab_env"),
    ("ARGS = ['-i', 'inventories/lab']\n", "inventories/lab"),
])
def test_each_kind_of_lab_use_is_found(source, what):
    assert [found for _line, found in lab_uses(source)] == [what]


def test_dev_test_runs_the_marked_tests_beside_the_suite_and_the_others_in_it():
    with open(os.path.join(REPO, "dev")) as handle:
        dev = handle.read()
    assert re.search(r"^NO_LAB=no_lab$", dev, re.M)
    suite = [line for line in dev.splitlines() if "run_pytest tests/integration" in line]
    assert any('-m "not $NO_LAB"' in line and "suite=$?" in line for line in suite), suite
    assert any('-m "$NO_LAB"' in line and "suite=$?" not in line for line in suite), suite
    with open(os.path.join(REPO, "pyproject.toml")) as handle:
        assert '"no_lab: ' in handle.read()
