"""The execution environment: its definition at the repo root builds a context offline, the installed collection
declares its own dependencies inside itself (ansible-builder introspect), and the image has what jobs need."""

import os
import subprocess
import tarfile

import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def load(*parts):
    with open(os.path.join(REPO, *parts)) as handle:
        return yaml.safe_load(handle)


def test_the_installed_collection_declares_its_dependencies_inside_itself():
    # ansible-builder reads meta/execution-environment.yml of every INSTALLED collection and refuses absolute
    # paths; a path leaving the collection (the old ../requirements.txt) is a FileNotFoundError at build time.
    declared = load("meta", "execution-environment.yml")["dependencies"]
    assert declared == {"python": "requirements.txt", "system": "bindep.txt"}
    assert "images" not in load("meta", "execution-environment.yml"), "the EE definition lives at the repo root"
    bindep = open(os.path.join(REPO, "bindep.txt")).read()
    for package in ("openssh-clients [platform:rpm]", "postgresql [platform:rpm]", "git"):
        assert package in bindep


def test_ee_context_builds_and_introspects_offline(tmp_path):
    completed = subprocess.run([os.path.join(REPO, "scripts", "ee-context"), str(tmp_path / "context")],
                               capture_output=True, text=True, check=False)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "declares every line of requirements.txt and bindep.txt" in completed.stdout
    # Nothing git ignores is shipped (ansible-galaxy reads galaxy.yml's build_ignore, not .gitignore).
    with tarfile.open(os.path.join(REPO, "build", "ee", "rollback-core.tar.gz")) as tarball:
        members = "\n".join(tarball.getnames())
    ignored = subprocess.run(["git", "check-ignore", "--no-index", "--stdin"], cwd=REPO, input=members,
                             capture_output=True, text=True, check=False).stdout.split()
    assert ignored == [], "the collection tarball has files git ignores: %s" % ignored[:10]
    containerfile = (tmp_path / "context" / "Dockerfile").read_text()
    base, galaxy = containerfile.split("# Galaxy build stage")[0], containerfile.split("# Galaxy build stage")[1]
    assert "-y install git-core" in base, "the galaxy stage is built FROM base: git must be there"
    assert "module enable postgresql:$POSTGRESQL_STREAM" in base and "ARG POSTGRESQL_STREAM=15" in base
    assert "ansible-galaxy collection install" in galaxy
    assert "introspect.py introspect" in containerfile, "deps come from the installed collection"
    assert "\nUSER 1000\n" in containerfile.split("# Final build stage")[1]
    requirements = yaml.safe_load((tmp_path / "context" / "_build" / "requirements.yml").read_text())
    [collection] = requirements["collections"]
    assert collection["type"] == "file"
    assert (tmp_path / "context" / "_build" / collection["name"]).is_file()
