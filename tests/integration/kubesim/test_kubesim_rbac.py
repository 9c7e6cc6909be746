"""RBAC for real: the simulator in RBAC mode authenticates ServiceAccount tokens and authorizes each request
as the RBAC authorizer does (plugin/pkg/auth/authorizer/rbac/rbac.go, registry/rbac/validation/rule.go
RuleAllows), so docs/least-privilege/k8s-rbac.yaml is enforced, not only compared with the code."""

import os

import pytest
import yaml
from support.kube import DEPLOYMENT, Settings, Simulator
from support.kube_conformance import create, kget

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
RBAC = os.path.join(REPO, "docs", "least-privilege", "k8s-rbac.yaml")


@pytest.fixture(scope="module")
def secured(tmp_path_factory):
    simulator = Simulator(tmp_path_factory.mktemp("rbac"), "rbac", Settings(rbac=True, ready_delay=0.1,
                                                                            stop_delay=0.05))
    simulator.kubectl("create", "namespace", "production")
    simulator.kubectl("create", "-n", "production", "serviceaccount", "rollback-core")
    simulator.kubectl("apply", "-f", RBAC)
    simulator.token = simulator.kubectl("create", "token", "-n", "production", "rollback-core").stdout.strip()
    yield simulator
    simulator.stop()


def test_tokens_are_authenticated_and_requests_authorized(secured):
    token = secured.token
    create(secured, "production", DEPLOYMENT)
    allowed = secured.kubectl("get", "-n", "production", "deployment", "demo", "-o", "name", token=token)
    assert allowed.stdout.strip() == "deployment.apps/demo"
    denied = secured.kubectl("delete", "-n", "production", "deployment", "demo", token=token, check=False)
    assert denied.returncode != 0
    assert ('deployments.apps "demo" is forbidden: User "system:serviceaccount:production:rollback-core" cannot '
            'delete resource "deployments" in API group "apps" in the namespace "production"') in denied.stderr
    elsewhere = secured.kubectl("get", "-n", "default", "configmaps", token=token, check=False)
    assert 'cannot list resource "configmaps" in API group "" in the namespace "default"' in elsewhere.stderr
    wrong = secured.kubectl("get", "-n", "production", "deployments", token="not-a-token", check=False)
    assert wrong.returncode != 0 and "Unauthorized" in wrong.stderr + "unauthorized"
    can = secured.kubectl("auth", "can-i", "patch", "deployments", "-n", "production", token=token, check=False)
    assert can.stdout.strip() == "yes"
    cannot = secured.kubectl("auth", "can-i", "delete", "deployments", "-n", "production", token=token,
                             check=False)
    assert cannot.stdout.strip() == "no"


def test_the_documented_role_runs_the_kubernetes_modules(secured, ansible_module, tmp_path):
    """docs/least-privilege.md's Role is enough for rollout_undo, traffic and k8s_config_restore, with the
    ServiceAccount's token and nothing else."""
    if secured.kubectl("get", "-n", "production", "deployment", "demo", check=False).returncode != 0:
        create(secured, "production", DEPLOYMENT)
    secured.kubectl("set", "image", "-n", "production", "deployment/demo", "web=rollback-demo:1.0.1")
    secured.kubectl("create", "-n", "production", "configmap", "app", "--from-literal=mode=new")
    auth = dict(kubeconfig=secured.kubeconfig_for(secured.token, tmp_path / "sa.kubeconfig"),
                namespace="production", wait_timeout=30, wait_sleep=0.1)
    undo = ansible_module("rollout_undo", dict(auth, platform="kubernetes", name="demo"))
    assert not undo.failed, undo.stdout
    assert kget(secured, "production", "deployment", "demo")["spec"]["template"]["spec"]["containers"][0][
        "image"] == "rollback-demo:1.0.0"
    stop = ansible_module("traffic", dict(auth, platform="kubernetes", name="demo", state="stopped"))
    assert not stop.failed, stop.stdout
    start = ansible_module("traffic", dict(auth, platform="kubernetes", name="demo", state="started"))
    assert not start.failed, start.stdout
    backup = tmp_path / "config.yaml"
    backup.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "ConfigMap",
                                      "metadata": {"name": "app", "namespace": "production"},
                                      "data": {"mode": "old"}}))
    restore = ansible_module("k8s_config_restore", dict(auth, backup=str(backup)))
    assert not restore.failed, restore.stdout
    assert kget(secured, "production", "configmap", "app")["data"] == {"mode": "old"}
