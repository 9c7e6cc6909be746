"""A re-run of rollout_undo does not undo again: the undo record (plugins/module_utils/undo_record.py).

Without it, a second `kubectl rollout undo` goes back to the bad release: the revision before the current one is
then the bad one (kubectl pkg/polymorphichelpers/rollback.go takes the second highest revision, and the Deployment
controller gives the revision rolled back to the next number, pkg/controller/deployment/sync.go getNewReplicaSet).
A server's "release before the current one" goes one release further back each time.
"""

import json
import os
import subprocess

import pytest
import test_rollout_undo_kubernetes as kubernetes_tests
import yaml
from support.server_release import current_release, point_current

sim = kubernetes_tests.sim  # the fixture: a simulator of its own per test
undo_args = kubernetes_tests.undo_args

RECORD = "rollback.core/undo"
REVISION = "deployment.kubernetes.io/revision"


def image_of(sim, resource, name):
    return sim.get(resource, name)["spec"]["template"]["spec"]["containers"][0]["image"]


def record_of(obj):
    return json.loads(obj["metadata"]["annotations"][RECORD])


def test_deployment_rerun_changes_nothing_until_a_new_deploy(ansible_module, sim):
    sim.history("rollback-demo:1.0.1")
    sim.settle()
    first = ansible_module("rollout_undo", undo_args(sim, run_id="run-1"))
    assert not first.failed, first.stdout
    assert (first.result["changed"], first.result["already_rolled_back"]) == (True, False)
    assert (first.result["from_version"], first.result["to_version"]) == ("rollback-demo:1.0.1", "rollback-demo:1.0.0")
    sim.settle()
    deployment = sim.get("deployment", "demo")
    record = record_of(deployment)
    assert record == first.result["undo_record"]
    assert (record["from"]["version"], record["from"]["revision"], record["to"]["version"], record["to"]["revision"],
            record["run_id"]) == ("rollback-demo:1.0.1", 2, "rollback-demo:1.0.0", 1, "run-1")
    # The Deployment controller copies the Deployment's annotations to its new ReplicaSet, the revision annotations
    # excepted (kubernetes pkg/controller/deployment/util/deployment_util.go copyDeploymentAnnotationsToReplicaSet
    # and annotationsToSkip; SetNewReplicaSetAnnotations then sets the revision): the revived ReplicaSet carries
    # the record, and the revision logic is unchanged - the revision rolled back to becomes revision 3.
    replicasets = dict((rs["metadata"]["annotations"][REVISION], rs) for rs in sim.get("replicasets")["items"])
    assert sorted(replicasets) == ["2", "3"]
    assert deployment["metadata"]["annotations"][REVISION] == "3"
    assert record_of(replicasets["3"]) == record
    assert replicasets["3"]["spec"]["template"]["spec"]["containers"][0]["image"] == "rollback-demo:1.0.0"
    assert RECORD not in replicasets["2"]["metadata"]["annotations"]

    for check in (True, False):
        again = ansible_module("rollout_undo", undo_args(sim, run_id="run-2"), check=check)
        assert not again.failed, again.stdout
        assert (again.result["changed"], again.result["already_rolled_back"]) == (False, True), again.stdout
        assert again.result["undo_record"] == record and again.result["to_version"] == "rollback-demo:1.0.0"
    assert sim.image() == "rollback-demo:1.0.0" and record_of(sim.get("deployment", "demo")) == record

    sim.kubectl("set", "image", "deployment/demo", "web=rollback-demo:1.0.2")  # a deploy after the undo
    sim.settle()
    next_run = ansible_module("rollout_undo", undo_args(sim, run_id="run-3"))
    assert not next_run.failed, next_run.stdout
    assert (next_run.result["changed"], next_run.result["already_rolled_back"]) == (True, False)
    assert (next_run.result["from_version"], next_run.result["to_version"]) == (
        "rollback-demo:1.0.2", "rollback-demo:1.0.0")
    sim.settle()
    assert sim.image() == "rollback-demo:1.0.0"
    assert record_of(sim.get("deployment", "demo"))["run_id"] == "run-3"

    explicit = ansible_module("rollout_undo", undo_args(sim, to_revision=2))  # an explicit target wins
    assert (explicit.result["changed"], explicit.result["to_version"]) == (True, "rollback-demo:1.0.1")


def test_deployment_template_change_with_the_same_image_is_a_deploy(ansible_module, sim):
    sim.history("rollback-demo:1.0.1")
    sim.settle()
    assert ansible_module("rollout_undo", undo_args(sim)).result["changed"] is True
    sim.settle()
    sim.kubectl("set", "env", "deployment/demo", "FEATURE=on")  # same image, new template: a new revision
    sim.settle()
    run = ansible_module("rollout_undo", undo_args(sim))
    assert (run.result["changed"], run.result["already_rolled_back"]) == (True, False), run.stdout


def workload(kind):
    obj = {"apiVersion": "apps/v1", "kind": kind, "metadata": {"name": "w", "labels": {"app": "w"}},
           "spec": {"selector": {"matchLabels": {"app": "w"}},
                    "template": {"metadata": {"labels": {"app": "w"}},
                                 "spec": {"containers": [{"name": "main", "image": "rollback-demo:1.0.0"}]}}}}
    if kind == "StatefulSet":
        obj["spec"].update(replicas=2, serviceName="w")
    return obj


@pytest.mark.parametrize("kind,resource", [("StatefulSet", "statefulset"), ("DaemonSet", "daemonset")])
def test_statefulset_and_daemonset_rerun(ansible_module, sim, kind, resource):
    sim.kubectl("create", "--validate=false", "-f", "-", stdin=yaml.safe_dump(workload(kind)))
    sim.kubectl("set", "image", "%s/w" % resource, "main=rollback-demo:1.0.1")
    first = ansible_module("rollout_undo", undo_args(sim, name="w", kind=kind))
    assert not first.failed, first.stdout
    assert (first.result["changed"], first.result["to_version"]) == (True, "rollback-demo:1.0.0")
    assert record_of(sim.get(resource, "w")) == first.result["undo_record"]
    for check in (True, False):
        again = ansible_module("rollout_undo", undo_args(sim, name="w", kind=kind), check=check)
        assert not again.failed, again.stdout
        assert (again.result["changed"], again.result["already_rolled_back"]) == (False, True), again.stdout
    assert image_of(sim, resource, "w") == "rollback-demo:1.0.0"
    sim.kubectl("set", "image", "%s/w" % resource, "main=rollback-demo:1.0.2")
    next_run = ansible_module("rollout_undo", undo_args(sim, name="w", kind=kind))
    assert not next_run.failed, next_run.stdout
    assert (next_run.result["changed"], next_run.result["from_version"], next_run.result["to_version"]) == (
        True, "rollback-demo:1.0.2", "rollback-demo:1.0.0")
    assert image_of(sim, resource, "w") == "rollback-demo:1.0.0"


def test_unreadable_record_fails_without_change(ansible_module, sim):
    sim.history("rollback-demo:1.0.1")
    sim.settle()
    sim.kubectl("annotate", "deployment/demo", RECORD + "=garbage")
    run = ansible_module("rollout_undo", undo_args(sim))
    assert run.failed and run.result["msg"].startswith(
        "the undo record annotation rollback.core/undo of deployment default/demo is unreadable: not JSON")
    assert sim.image() == "rollback-demo:1.0.1"


# Servers --------------------------------------------------------------------------------------------------------

@pytest.fixture
def server_record(lab):
    """The lab's releases at v1.0.1, without an undo record; put back as found afterwards."""
    path = os.path.join(lab["LAB_SERVER_RELEASES_DIR"], ".rollback-undo.json")
    if os.path.exists(path):
        os.remove(path)
    point_current(lab, "v1.0.1")
    yield path
    point_current(lab, "v1.0.0")
    if os.path.exists(path):
        os.remove(path)


def test_server_releases_rerun(ansible_module, lab, lab_env, server_record):
    env = {"PATH": lab["LAB_BIN"] + os.pathsep + lab_env["PATH"]}
    args = dict(platform="server", name="demo", releases_dir=lab["LAB_SERVER_RELEASES_DIR"],
                units=[lab["LAB_SERVER_UNIT"]], wait_timeout=30, wait_sleep=0.2, run_id="run-1")
    first = ansible_module("rollout_undo", args, env=env)
    assert not first.failed, first.stdout
    assert (first.result["from_version"], first.result["to_version"]) == ("v1.0.1", "v1.0.0")
    with open(server_record) as handle:
        record = json.load(handle)
    assert (record["from"], record["to"], record["run_id"]) == ({"version": "v1.0.1"}, {"version": "v1.0.0"}, "run-1")
    for check in (True, False):
        again = ansible_module("rollout_undo", dict(args, run_id="run-2"), check=check, env=env)
        assert not again.failed, again.stdout  # without the record: "v1.0.0 is the oldest release"
        assert (again.result["changed"], again.result["already_rolled_back"]) == (False, True)
        assert (again.result["from_version"], again.result["to_version"], again.result["undo_record"]) == (
            "v1.0.0", "v1.0.0", record)
    assert current_release(lab) == "v1.0.0"
    point_current(lab, "v1.0.1")  # the pipeline deploys the bad release again
    next_run = ansible_module("rollout_undo", dict(args, run_id="run-3"), env=env)
    assert not next_run.failed, next_run.stdout
    assert (next_run.result["changed"], next_run.result["already_rolled_back"]) == (True, False)
    assert current_release(lab) == "v1.0.0"
    explicit = ansible_module("rollout_undo", dict(args, to_version="v1.0.2"), env=env)
    assert explicit.result["changed"] is True and current_release(lab) == "v1.0.2"


def test_git_tags_rerun(ansible_module, lab):
    repo = lab["LAB_SERVER_REPO_DIR"]
    path = os.path.join(repo, ".git", ".rollback-undo.json")

    def head_tag():
        return subprocess.run(["git", "-C", repo, "tag", "--points-at", "HEAD"], check=True, capture_output=True,
                              text=True).stdout.split()

    subprocess.run(["git", "-C", repo, "checkout", "--quiet", "v1.0.2"], check=True)
    try:
        args = dict(platform="server", name="demo", repo_dir=repo)
        first = ansible_module("rollout_undo", args)
        assert not first.failed, first.stdout
        assert (first.result["from_version"], first.result["to_version"]) == ("v1.0.2", "v1.0.1")
        with open(path) as handle:
            record = json.load(handle)
        assert record["to"]["version"] == "v1.0.1" and len(record["to"]["commit"]) == 40
        again = ansible_module("rollout_undo", args)
        assert not again.failed, again.stdout  # without the record: v1.0.1 -> v1.0.0
        assert (again.result["changed"], again.result["already_rolled_back"]) == (False, True)
        assert head_tag() == ["v1.0.1"]
        subprocess.run(["git", "-C", repo, "checkout", "--quiet", "v1.0.2"], check=True)
        next_run = ansible_module("rollout_undo", args)
        assert (next_run.result["changed"], next_run.result["to_version"]) == (True, "v1.0.1")
        assert head_tag() == ["v1.0.1"]
    finally:
        subprocess.run(["git", "-C", repo, "checkout", "--quiet", "v1.0.0"], check=True)
        if os.path.exists(path):
            os.remove(path)
