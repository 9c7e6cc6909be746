# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # Matches GITOPS_SPEC in plugins/module_utils/kubernetes_gitops.py.
    DOCUMENTATION = r"""
options:
  force:
    description:
      - Change a Kubernetes object even when a GitOps controller will revert the change.
      - 'Without it the task fails before any change when the object is managed by an Argo CD application with
        automated self-heal (annotation C(argocd.argoproj.io/tracking-id), or label C(app.kubernetes.io/instance)
        naming an existing Application), or by a Flux Kustomization that is not suspended (labels
        C(kustomize.toolkit.fluxcd.io/name) and C(/namespace)), or by a Flux HelmRelease with drift detection
        enabled; also when the Application or Kustomization cannot be read to rule that out. The message names the
        evidence and what to suspend.'
      - Objects applied with C(kubectl apply), or managed by a tool that only reverts at its next sync, give a
        warning.
    type: bool
    default: false
  argocd_namespace:
    description:
      - Namespace of the Argo CD Applications (when the tracking annotation does not name one).
    type: str
    default: argocd
"""
