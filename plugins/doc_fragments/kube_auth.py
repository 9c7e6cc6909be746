# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # Matches KUBE_AUTH_SPEC in plugins/module_utils/kubernetes.py.
    DOCUMENTATION = r"""
options:
  kubeconfig:
    description:
      - Path of a kubeconfig file. Default, C(KUBECONFIG) or C(~/.kube/config); inside a pod without any of
        these options, the service account (in-cluster configuration).
    type: path
  context:
    description:
      - Context of the kubeconfig to use. Default, its current context.
    type: str
  host:
    description:
      - URL of the Kubernetes API server, instead of a kubeconfig.
    type: str
  api_key:
    description:
      - Bearer token for O(host).
    type: str
  validate_certs:
    description:
      - Verify the API server's TLS certificate.
    type: bool
    default: true
requirements:
  - kubernetes >= 28 (Python)
"""
