"""Who else writes the object (Argo CD, Flux, kubectl apply), and check mode as a server-side dry run.

An undo that Argo CD's self-heal reverts a minute later is no undo: such objects are refused before
anything changes unless force. Check mode sends the very patches with dryRun=All, so the plan step at
preflight meets RBAC and admission: a token that may read but not patch fails the plan, not the run.
"""

import pytest
import yaml
from support.inprocess import run
from support.kube import DEPLOYMENT, Settings, Simulator

# Needs no lab service (it starts what it talks to): ./dev test runs it beside the lab's suite (pyproject.toml).
pytestmark = pytest.mark.no_lab

TRACKING = "argocd.argoproj.io/tracking-id"


@pytest.fixture
def sim(tmp_path):
    simulator = Simulator(tmp_path, "gitops")
    simulator.history("rollback-demo:1.0.1")
    yield simulator
    simulator.stop()


def undo(sim, **extra):
    return dict(dict(platform="kubernetes", name="demo", kubeconfig=sim.kubeconfig, wait_timeout=30, wait_sleep=0.2),
                **extra)


def test_an_argo_cd_managed_deployment_is_refused_without_force(sim):
    """The Application cannot be read here (no Argo CD in the cluster: 404), so self-heal cannot be ruled out."""
    sim.kubectl("annotate", "deployment/demo", TRACKING + "=shop-api:apps/Deployment:default/demo")
    refused = run("rollout_undo", undo(sim))
    assert refused["failed"], refused
    assert refused["msg"].startswith("deployment default/demo is managed by Argo CD (annotation %s=shop-api:apps/"
                                     "Deployment:default/demo; application argocd/shop-api not readable (404)" %
                                     TRACKING), refused["msg"]
    assert "argocd app set shop-api --sync-policy none" in refused["msg"] and "force: true" in refused["msg"]
    assert sim.image() == "rollback-demo:1.0.1", "nothing changed"
    planned = run("rollout_undo", undo(sim), check=True)
    assert planned["failed"] and "managed by Argo CD" in planned["msg"], "the preflight plan refuses it too"
    forced = run("rollout_undo", undo(sim, force=True))
    assert not forced["failed"] and forced["changed"] and sim.image() == "rollback-demo:1.0.0", forced
    assert any("changed anyway (force)" in warning for warning in forced["warnings"]), forced["warnings"]


def test_flux_managed_objects_are_refused_for_traffic_and_config_too(sim, tmp_path):
    flux = ["kustomize.toolkit.fluxcd.io/name=apps", "kustomize.toolkit.fluxcd.io/namespace=flux-system"]
    sim.kubectl("label", "deployment/demo", *flux)
    stop = run("traffic", dict(platform="kubernetes", name="demo", state="stopped", kubeconfig=sim.kubeconfig))
    assert stop["failed"] and "managed by Flux Kustomization flux-system/apps" in stop["msg"], stop
    assert "flux suspend kustomization apps -n flux-system" in stop["msg"]
    assert sim.get("deployment", "demo")["spec"]["replicas"] == 2
    sim.kubectl("create", "configmap", "app", "--from-literal=mode=new")
    sim.kubectl("label", "configmap/app", *flux)
    backup = tmp_path / "config.yaml"
    backup.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "app"},
                                      "data": {"mode": "old"}}))
    restore = run("k8s_config_restore", dict(backup=str(backup), kubeconfig=sim.kubeconfig))
    assert restore["failed"] and "ConfigMap default/app is managed by Flux" in restore["msg"], restore
    assert sim.get("configmap", "app")["data"] == {"mode": "new"}


def test_kubectl_apply_managed_objects_only_warn(sim):
    applied = yaml.safe_load(yaml.safe_dump(DEPLOYMENT))
    applied["metadata"]["name"] = "applied"
    applied["spec"]["selector"]["matchLabels"] = applied["spec"]["template"]["metadata"]["labels"] = {"app": "applied"}
    sim.kubectl("apply", "-f", "-", stdin=yaml.safe_dump(applied))
    sim.kubectl("set", "image", "deployment/applied", "web=rollback-demo:1.0.1")
    done = run("rollout_undo", undo(sim, name="applied"))
    assert not done["failed"] and done["changed"], done
    assert any("applied with kubectl apply" in warning for warning in done["warnings"]), done["warnings"]


def test_check_mode_is_a_server_side_dry_run_that_meets_rbac(tmp_path):
    secured = Simulator(tmp_path, "rbac", Settings(rbac=True, ready_delay=0.1, stop_delay=0.05))
    try:
        secured.history("rollback-demo:1.0.1")
        secured.kubectl("create", "serviceaccount", "planner")
        secured.kubectl("create", "role", "reader", "--verb=get,list", "--resource=deployments,replicasets,pods")
        secured.kubectl("create", "rolebinding", "planner", "--role=reader", "--serviceaccount=default:planner")
        token = secured.kubectl("create", "token", "planner").stdout.strip()
        auth = dict(kubeconfig=secured.kubeconfig_for(token, tmp_path / "planner.kubeconfig"))
        planned = run("rollout_undo", undo(secured, **auth), check=True)
        assert planned["failed"], planned
        assert planned["msg"].startswith("patching deployment default/demo (server-side dry run) failed: 403 "), \
            planned["msg"]
        secured.kubectl("create", "role", "patcher", "--verb=patch", "--resource=deployments")
        secured.kubectl("create", "rolebinding", "planner-patch", "--role=patcher", "--serviceaccount=default:planner")
        planned = run("rollout_undo", undo(secured, **auth), check=True)
        assert not planned["failed"] and planned["changed"], planned
        assert secured.image() == "rollback-demo:1.0.1", "a dry run changes nothing"
        lister = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "lister"},
                  "rules": [{"apiGroups": ["autoscaling"], "resources": ["horizontalpodautoscalers"],
                             "verbs": ["list"]},
                            {"apiGroups": ["keda.sh"], "resources": ["scaledobjects"], "verbs": ["list"]}]}
        secured.kubectl("apply", "-f", "-", stdin=yaml.safe_dump(lister))
        secured.kubectl("create", "rolebinding", "planner-list", "--role=lister", "--serviceaccount=default:planner")
        stop = run("traffic", dict(platform="kubernetes", name="demo", state="stopped", **auth), check=True)
        assert stop["failed"] and stop["msg"].startswith(
            "patching deployment/scale default/demo (server-side dry run) failed: 403 "), stop["msg"]
        assert secured.get("deployment", "demo")["spec"]["replicas"] == 2
    finally:
        secured.stop()
