# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # Matches KUBE_AUTH_SPEC in plugins/module_utils/kubernetes_auth.py.
    DOCUMENTATION = r"""
options:
  kubeconfig:
    description:
      - Path of a kubeconfig file.
      - 'Which cluster is used, first match wins as a whole: O(host) (with O(api_key) or O(client_cert)), else
        O(kubeconfig)/O(context); else the same settings from the environment variables kubernetes.core reads and
        the AWX Kubernetes credential sets (E(K8S_AUTH_HOST), E(K8S_AUTH_API_KEY), E(K8S_AUTH_KUBECONFIG),
        E(K8S_AUTH_CONTEXT), E(K8S_AUTH_SSL_CA_CERT), E(K8S_AUTH_VERIFY_SSL), ...); else E(KUBECONFIG) or
        C(~/.kube/config); else, inside a pod, its service account. A token of one source is never sent to the
        server of another.'
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
      - Bearer token for O(host) (or instead of the kubeconfig user's credentials).
    type: str
  ca_cert:
    description:
      - CA certificate file to verify the API server with.
    type: path
    aliases: [ssl_ca_cert]
  client_cert:
    description:
      - Client certificate file to authenticate with.
    type: path
    aliases: [cert_file]
  client_key:
    description:
      - Key file of O(client_cert).
    type: path
    aliases: [key_file]
  validate_certs:
    description:
      - Verify the API server's TLS certificate. Default, what the kubeconfig says (verify unless it sets
        C(insecure-skip-tls-verify)).
    type: bool
    aliases: [verify_ssl]
notes:
  - Every API call has a timeout and is retried with backoff on a transient failure (connection refused or
    reset, no answer, HTTP 429 or 5xx) for at most O(wait_timeout) (30 s at most); inside a wait, until the wait's
    own deadline. A write is retried only when the server cannot have processed it.
requirements:
  - kubernetes >= 28 (Python)
"""
