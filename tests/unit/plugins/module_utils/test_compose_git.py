"""compose_git: ``to_version`` as a commit of the git work tree holding a Compose project (runbook 004's
``git checkout $PREVIOUS_VERSION -- docker-compose.app.yml``), with the real ``git`` on a repository made in the
test (``rev-parse --verify --quiet <rev>^{commit}``, ``show <commit>:<path>``, ``checkout <commit> -- <paths>``:
git-rev-parse(1), git-show(1), git-checkout(1)); the compose model is a fake (``docker compose config`` runs in
the integration tests)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import shutil
import subprocess

import pytest

from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError
from ansible_collections.rollback.core.plugins.module_utils.compose_git import GitCommit, model_with, targets_at

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


class Module:
    def __init__(self, git=True):
        self.git = git

    def get_bin_path(self, name):
        return shutil.which(name) if self.git else None

    def run_command(self, argv):
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        return done.returncode, done.stdout, done.stderr


class Project:
    def __init__(self, src, config=None, module=None):
        self.src = src
        self.module = module or Module()
        self.config = config or {}
        self.seen = []

    def config_of(self, files):
        self.seen.append([(os.path.basename(path), open(path).read()) for path in files])
        return self.old


def git(directory, *args):
    subprocess.run(["git", "-C", str(directory)] + list(args), check=True, capture_output=True)


@pytest.fixture
def repo(tmp_path):
    git(tmp_path, "init", "-q")
    git(tmp_path, "config", "user.email", "t@example.com")
    git(tmp_path, "config", "user.name", "t")
    (tmp_path / "app").mkdir()
    compose = tmp_path / "app" / "compose.yml"
    compose.write_text("services: {api: {image: 'demo/api:1.0.0'}}\n")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-q", "-m", "1.0.0")
    git(tmp_path, "tag", "v1.0.0")
    compose.write_text("services: {api: {image: 'demo/api:1.0.1'}}\n")
    git(tmp_path, "commit", "-q", "-am", "1.0.1")
    return tmp_path


def test_a_tag_of_the_work_tree_is_a_commit(repo):
    commit = GitCommit(Project(str(repo / "app")), "v1.0.0")
    assert commit and commit.top == os.path.realpath(str(repo)) and len(commit.commit) == 40
    assert commit.show(str(repo / "app" / "compose.yml")) == "services: {api: {image: 'demo/api:1.0.0'}}\n"
    assert commit.show(str(repo / "app" / "absent.yml")) is None
    assert commit.show(str(repo.parent / "outside.yml")) is None  # not in the work tree


@pytest.mark.parametrize("version", ["1.0.0", "--help", "no-such-tag"])
def test_what_is_not_a_commit_is_false(repo, version):
    assert not GitCommit(Project(str(repo / "app")), version)


def test_no_git_or_no_work_tree_is_false(repo, tmp_path_factory):
    assert not GitCommit(Project(str(repo / "app"), module=Module(git=False)), "v1.0.0")
    assert not GitCommit(Project(str(tmp_path_factory.mktemp("plain"))), "v1.0.0")


def test_checkout_puts_the_files_back_and_a_failure_names_the_saved_copies(repo):
    commit = GitCommit(Project(str(repo / "app")), "v1.0.0")
    commit.checkout([str(repo / "app" / "compose.yml")], [])
    assert "1.0.0" in (repo / "app" / "compose.yml").read_text()
    with pytest.raises(RollbackError, match=r"^git checkout v1.0.0 of the compose files failed \(previous files "
                                            r"saved as /s/compose.yml.saved\): error: pathspec"):
        commit.checkout([str(repo / "app" / "absent.yml")], ["/s/compose.yml.saved"])


def test_targets_are_the_images_at_the_commit_and_other_services_must_not_change(tmp_path):
    project = Project(str(tmp_path), config=dict(services=dict(api=dict(image="demo/api:1.0.1"),
                                                               db=dict(image="postgres:16"))))
    commit = type("Commit", (), dict(version="v1.0.0"))()
    files = [str(tmp_path / "compose.yml"), str(tmp_path / "compose.db.yml")]
    for path in files:
        open(path, "w").write("original\n")
    project.old = dict(services=dict(api=dict(image="demo/api:1.0.0"), db=dict(image="postgres:16")))
    assert targets_at(project, ["api"], commit, files, {files[0]: "at v1.0.0\n"}, files[:1]) == dict(
        api="demo/api:1.0.0")
    assert project.seen[-1][1] == ("compose.db.yml", "original\n") and project.seen[-1][0][1] == "at v1.0.0\n"
    assert sorted(os.listdir(str(tmp_path))) == ["compose.db.yml", "compose.yml"]  # the copies are gone
    project.old = dict(services=dict(api=dict(image="demo/api:1.0.0"), db=dict(image="postgres:15")))
    with pytest.raises(RollbackError, match=r"^checking out compose.yml at v1.0.0 would also change service\(s\) db, "
                                            r"which are not rolled back"):
        targets_at(project, ["api"], commit, files, {files[0]: "x"}, files[:1])
    project.old = dict(services=dict(db=dict(image="postgres:16")))
    with pytest.raises(RollbackError, match=r"^service\(s\) api not in the compose files at v1.0.0: nothing was "
                                            "changed$"):
        targets_at(project, ["api"], commit, files, {files[0]: "x"}, files[:1])


def test_model_with_removes_its_copies_even_when_compose_fails(tmp_path):
    class Failing(Project):
        def config_of(self, files):
            raise RollbackError("docker compose config failed")
    path = str(tmp_path / "compose.yml")
    open(path, "w").write("x")
    with pytest.raises(RollbackError):
        model_with(Failing(str(tmp_path)), [path], {path: "y"})
    assert os.listdir(str(tmp_path)) == ["compose.yml"]
