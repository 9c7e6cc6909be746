"""GitOps managers found from what Argo CD and Flux put on objects, and what the guard makes of them.

Argo CD: annotation argocd.argoproj.io/tracking-id "<app>:<group>/<kind>:<namespace>/<name>" (argo-cd
util/argo/resource_tracking.go), label app.kubernetes.io/instance for label tracking; self-heal is
Application spec.syncPolicy.automated.selfHeal. Flux: labels kustomize.toolkit.fluxcd.io/name|namespace
and helm.toolkit.fluxcd.io/name|namespace, Kustomization spec.suspend, HelmRelease spec.driftDetection.mode.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError
from ansible_collections.rollback.core.plugins.module_utils.kubernetes import KubeError
from ansible_collections.rollback.core.plugins.module_utils.kubernetes_gitops import findings, guard


class FakeKube:
    def __init__(self, objects=None, forbidden=()):
        self.objects, self.forbidden, self.reads = objects or {}, forbidden, []

    def get(self, resource, namespace, name):
        self.reads.append((resource, namespace, name))
        if resource in self.forbidden:
            raise KubeError("forbidden", status=403)
        if (resource, namespace, name) not in self.objects:
            raise KubeError("not found", status=404)
        return self.objects[(resource, namespace, name)]


class FakeModule:
    def __init__(self, force=False):
        self.params = dict(force=force, argocd_namespace="argocd")
        self.warnings = []

    def warn(self, text):
        self.warnings.append(text)


def deployment(labels=None, annotations=None):
    return {"metadata": {"name": "api", "namespace": "shop", "labels": labels or {}, "annotations": annotations or {}}}


def application(self_heal, enabled=None):
    automated = {"selfHeal": self_heal, "prune": True}
    if enabled is not None:
        automated["enabled"] = enabled
    return {"spec": {"syncPolicy": {"automated": automated}}}


TRACKED = {"argocd.argoproj.io/tracking-id": "shop-api:apps/Deployment:shop/api"}


def test_argo_cd_self_heal_is_refused_without_force_and_names_the_evidence():
    kube = FakeKube({("applications", "argocd", "shop-api"): application(True)})
    with pytest.raises(RollbackError) as refused:
        guard(FakeModule(), kube, deployment(annotations=TRACKED), "deployment shop/api")
    assert refused.value.msg == (
        "deployment shop/api is managed by Argo CD application argocd/shop-api with self-heal (annotation "
        "argocd.argoproj.io/tracking-id=shop-api:apps/Deployment:shop/api): suspend its automated sync first "
        "(argocd app set shop-api --sync-policy none, or --self-heal=false), or give force: true")
    module = FakeModule(force=True)
    guard(module, kube, deployment(annotations=TRACKED), "deployment shop/api")
    assert "changed anyway (force)" in module.warnings[0]


def test_argo_cd_application_in_another_namespace_from_the_tracking_id():
    kube = FakeKube({("applications", "team-a", "api"): application(False)})
    module = FakeModule()
    tracked = {"argocd.argoproj.io/tracking-id": "team-a_api:apps/Deployment:shop/api"}
    guard(module, kube, deployment(annotations=tracked), "deployment shop/api")
    assert kube.reads == [("applications", "team-a", "api")]
    assert module.warnings == ["deployment shop/api is managed by Argo CD application team-a/api (annotation "
                               "argocd.argoproj.io/tracking-id=team-a_api:apps/Deployment:shop/api): its next sync "
                               "puts back what Git says: revert the change in Git too"]


def test_argo_cd_automated_sync_disabled_does_not_self_heal():
    kube = FakeKube({("applications", "argocd", "shop-api"): application(True, enabled=False)})
    assert findings(kube, deployment(annotations=TRACKED), "argocd")[0].reverts is False


def test_unreadable_application_cannot_rule_self_heal_out():
    found = findings(FakeKube(forbidden=("applications",)), deployment(annotations=TRACKED), "argocd")
    assert found[0].reverts is None and "not readable (403)" in found[0].text


def test_instance_label_counts_only_when_such_an_application_exists():
    helm = deployment(labels={"app.kubernetes.io/instance": "api"})
    assert findings(FakeKube(), helm, "argocd") == []
    argo = FakeKube({("applications", "argocd", "api"): application(True)})
    assert findings(argo, helm, "argocd")[0].reverts is True


@pytest.mark.parametrize("spec,reverts", [({}, True), ({"suspend": True}, False), (None, None)])
def test_flux_kustomization(spec, reverts):
    objects = {} if spec is None else {("kustomizations", "flux-system", "apps"): {"spec": spec}}
    labels = {"kustomize.toolkit.fluxcd.io/name": "apps", "kustomize.toolkit.fluxcd.io/namespace": "flux-system"}
    assert findings(FakeKube(objects), deployment(labels=labels), "argocd")[0].reverts is reverts


def test_flux_reconcile_disabled_on_the_object():
    labels = {"kustomize.toolkit.fluxcd.io/name": "apps", "kustomize.toolkit.fluxcd.io/namespace": "flux-system"}
    found = findings(FakeKube(), deployment(labels, {"kustomize.toolkit.fluxcd.io/reconcile": "disabled"}), "argocd")
    assert found[0].reverts is False


@pytest.mark.parametrize("spec,reverts", [({"driftDetection": {"mode": "enabled"}}, True),
                                          ({"driftDetection": {"mode": "warn"}}, False), ({}, False)])
def test_flux_helmrelease_drift_detection(spec, reverts):
    labels = {"helm.toolkit.fluxcd.io/name": "api", "helm.toolkit.fluxcd.io/namespace": "shop"}
    kube = FakeKube({("helmreleases", "shop", "api"): {"spec": spec}})
    assert findings(kube, deployment(labels=labels), "argocd")[0].reverts is reverts


def test_kubectl_apply_is_a_warning():
    module = FakeModule()
    guard(module, FakeKube(), deployment(annotations={"kubectl.kubernetes.io/last-applied-configuration": "{}"}),
          "deployment shop/api")
    assert module.warnings == ["deployment shop/api is applied with kubectl apply (annotation "
                               "kubectl.kubernetes.io/last-applied-configuration): the next kubectl apply of its "
                               "manifest puts back what the manifest says: fix the manifest too"]
