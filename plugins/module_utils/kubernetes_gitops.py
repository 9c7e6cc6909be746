# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Who else writes this object: Argo CD, Flux, kubectl apply. A rollback they undo again is no rollback.

Found from what the tools themselves put on the objects they manage:

- Argo CD: the annotation ``argocd.argoproj.io/tracking-id`` (``<app>:<group>/<kind>:<namespace>/<name>``,
  ``<app>`` is ``<namespace>_<name>`` for applications outside Argo CD's namespace; annotation
  tracking, the default since Argo CD 3.0), or the label ``app.kubernetes.io/instance`` (label tracking,
  the earlier default; Helm sets the same label, so it counts only when such an Application exists).
  The Application's ``spec.syncPolicy.automated.selfHeal`` says whether a change is reverted.
- Flux: the labels ``kustomize.toolkit.fluxcd.io/name``/``namespace`` (a Kustomization re-applies its
  objects on every interval unless ``spec.suspend`` or the object's ``kustomize.toolkit.fluxcd.io/
  reconcile: disabled``) and ``helm.toolkit.fluxcd.io/name``/``namespace`` (a HelmRelease corrects
  drift only with ``spec.driftDetection.mode: enabled``).
- kubectl apply: the annotation ``kubectl.kubernetes.io/last-applied-configuration``.

A tool that reverts (or may revert: its configuration cannot be read) makes the change refused unless
``force``; a tool that will only undo it at its next sync or apply is a warning.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError
from ansible_collections.rollback.core.plugins.module_utils.kubernetes import KubeError

GITOPS_SPEC = dict(
    force=dict(type="bool", default=False),
    argocd_namespace=dict(type="str", default="argocd"),
)

ARGO_TRACKING = "argocd.argoproj.io/tracking-id"
ARGO_LABEL = "app.kubernetes.io/instance"
FLUX_KUSTOMIZATION = "kustomize.toolkit.fluxcd.io"
FLUX_HELMRELEASE = "helm.toolkit.fluxcd.io"
FLUX_RECONCILE = "kustomize.toolkit.fluxcd.io/reconcile"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


class Finding:
    """One manager of the object: ``reverts`` True (it will undo our change), None (cannot tell), False."""

    def __init__(self, text, reverts, advice):
        self.text, self.reverts, self.advice = text, reverts, advice


def findings(kube, obj, argocd_namespace):
    meta = obj["metadata"]
    labels, annotations = meta.get("labels") or {}, meta.get("annotations") or {}
    found = []
    if annotations.get(ARGO_TRACKING):
        app = annotations[ARGO_TRACKING].split(":", 1)[0]
        namespace, _sep, name = app.rpartition("_")
        found.append(_argocd(kube, namespace or argocd_namespace, name,
                             "annotation %s=%s" % (ARGO_TRACKING, annotations[ARGO_TRACKING]), strict=True))
    elif labels.get(ARGO_LABEL):
        found.append(_argocd(kube, argocd_namespace, labels[ARGO_LABEL],
                             "label %s=%s" % (ARGO_LABEL, labels[ARGO_LABEL]), strict=False))
    for group, judge in ((FLUX_KUSTOMIZATION, _kustomization), (FLUX_HELMRELEASE, _helmrelease)):
        name, namespace = labels.get(group + "/name"), labels.get(group + "/namespace")
        if name and namespace:
            evidence = "labels %s/name=%s, %s/namespace=%s" % (group, name, group, namespace)
            found.append(judge(kube, namespace, name, evidence, annotations))
    if LAST_APPLIED in annotations:
        found.append(Finding("applied with kubectl apply (annotation %s)" % LAST_APPLIED, False,
                             "the next kubectl apply of its manifest puts back what the manifest says: fix the "
                             "manifest too"))
    return [f for f in found if f is not None]


def guard(module, kube, obj, what):
    """Refuse the change when a tool would revert it (unless force); warn about the ones that may later."""
    for finding in findings(kube, obj, module.params["argocd_namespace"]):
        text = "%s is %s" % (what, finding.text)
        if finding.reverts is False:
            module.warn("%s: %s" % (text, finding.advice))
        elif module.params["force"]:
            module.warn("%s: changed anyway (force); %s" % (text, finding.advice))
        else:
            raise RollbackError("%s: %s, or give force: true" % (text, finding.advice))


def _read(kube, resource, namespace, name):
    """(object, None) or (None, 'why not'): 404 and 403 are answers here, not failures."""
    try:
        return kube.get(resource, namespace, name), None
    except KubeError as error:
        if error.status in (403, 404):
            return None, "%s %s/%s not readable (%s)" % (resource[:-1], namespace, name, error.status)
        raise


def _argocd(kube, namespace, name, evidence, strict):
    app, why = _read(kube, "applications", namespace, name)
    advice = ("suspend its automated sync first (argocd app set %s --sync-policy none, or "
              "--self-heal=false)" % name)
    if app is None:
        if not strict and why.endswith("(404)"):
            return None  # the label of a Helm chart, not an Argo CD application
        if not strict:
            return Finding("maybe managed by Argo CD (%s; %s)" % (evidence, why), False,
                           "if its automated sync self-heals, it reverts this change: " + advice)
        return Finding("managed by Argo CD (%s; %s, so self-heal cannot be ruled out)" % (evidence, why), None,
                       advice)
    automated = ((app.get("spec") or {}).get("syncPolicy") or {}).get("automated")
    if automated is not None and automated.get("enabled", True) is not False and automated.get("selfHeal"):
        return Finding("managed by Argo CD application %s/%s with self-heal (%s)" % (namespace, name, evidence),
                       True, advice)
    return Finding("managed by Argo CD application %s/%s (%s)" % (namespace, name, evidence), False,
                   "its next sync puts back what Git says: revert the change in Git too")


def _kustomization(kube, namespace, name, evidence, annotations):
    if annotations.get(FLUX_RECONCILE) == "disabled":
        return Finding("in Flux Kustomization %s/%s with reconcile disabled on it (%s)" % (namespace, name, evidence),
                       False, "Flux leaves it alone until the annotation %s is removed" % FLUX_RECONCILE)
    advice = "suspend it first (flux suspend kustomization %s -n %s)" % (name, namespace)
    kustomization, why = _read(kube, "kustomizations", namespace, name)
    if kustomization is None:
        return Finding("managed by Flux Kustomization %s/%s (%s; %s)" % (namespace, name, evidence, why), None,
                       advice)
    if (kustomization.get("spec") or {}).get("suspend"):
        return Finding("managed by the suspended Flux Kustomization %s/%s (%s)" % (namespace, name, evidence), False,
                       "it puts back what Git says once resumed: revert the change in Git too")
    return Finding("managed by Flux Kustomization %s/%s, which re-applies it on every interval (%s)" % (
        namespace, name, evidence), True, advice)


def _helmrelease(kube, namespace, name, evidence, annotations):
    advice = "suspend it first (flux suspend helmrelease %s -n %s)" % (name, namespace)
    release, why = _read(kube, "helmreleases", namespace, name)
    if release is None:
        return Finding("managed by Flux HelmRelease %s/%s (%s; %s)" % (namespace, name, evidence, why), False,
                       "if its drift detection is enabled it reverts this change: " + advice)
    spec = release.get("spec") or {}
    if not spec.get("suspend") and (spec.get("driftDetection") or {}).get("mode") == "enabled":
        return Finding("managed by Flux HelmRelease %s/%s with drift correction (%s)" % (namespace, name, evidence),
                       True, advice)
    return Finding("managed by Flux HelmRelease %s/%s (%s)" % (namespace, name, evidence), False,
                   "its next upgrade puts back what the chart says: fix the release too")
