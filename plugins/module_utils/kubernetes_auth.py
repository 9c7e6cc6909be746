# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which cluster, with which credentials: the kube_auth options, K8S_AUTH_*, kubeconfig, in-cluster.

Precedence, first match wins as a whole (never a token of one source sent to the server of another):

1. the options: ``host`` (with ``api_key``, client certificate), else ``kubeconfig`` / ``context``;
2. the ``K8S_AUTH_*`` variables that kubernetes.core reads and AWX's Kubernetes credential injects
   (awx/main/tests/unit/test_tasks.py test_k8s_credential: K8S_AUTH_HOST, K8S_AUTH_API_KEY,
   K8S_AUTH_VERIFY_SSL, K8S_AUTH_SSL_CA_CERT), same names and aliases as kubernetes.core's
   module_utils/k8s/client.py ``_create_auth_spec``;
3. ``KUBECONFIG``, else ``~/.kube/config`` when it exists;
4. the pod's service account (in-cluster), only when none of the above is there. An AWX job pod always
   has KUBERNETES_SERVICE_HOST set, so in-cluster must come last, as in kubectl's deferred loading
   (client-go tools/clientcmd: the in-cluster config is used only when the kubeconfig is empty).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible.module_utils.parsing.convert_bool import boolean

from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError
from ansible_collections.rollback.core.plugins.module_utils import connection_specs

KUBE_AUTH_SPEC = connection_specs.KUBE_AUTH_SPEC  # spec kept apart from the client library

# Option -> the variables kubernetes.core reads for it, in its order (K8S_AUTH_<option>, then K8S_AUTH_<alias>).
ENVIRONMENT = dict(
    kubeconfig=("K8S_AUTH_KUBECONFIG",),
    context=("K8S_AUTH_CONTEXT",),
    host=("K8S_AUTH_HOST",),
    api_key=("K8S_AUTH_API_KEY",),
    ca_cert=("K8S_AUTH_CA_CERT", "K8S_AUTH_SSL_CA_CERT"),
    client_cert=("K8S_AUTH_CLIENT_CERT", "K8S_AUTH_CERT_FILE"),
    client_key=("K8S_AUTH_CLIENT_KEY", "K8S_AUTH_KEY_FILE"),
    validate_certs=("K8S_AUTH_VALIDATE_CERTS", "K8S_AUTH_VERIFY_SSL"),
)
TARGETS = ("host", "kubeconfig", "context")


def auth_settings(params, environ):
    """(settings, origin): the options when they name a cluster, else the K8S_AUTH_* variables, else none."""
    given = dict((key, params.get(key)) for key in KUBE_AUTH_SPEC if params.get(key) is not None)
    if any(key in given for key in TARGETS):
        return given, "option"
    from_env = {}
    for key, names in ENVIRONMENT.items():
        value = next((environ[name] for name in names if environ.get(name)), None)
        if value is not None:
            from_env[key] = value
    if any(key in from_env for key in TARGETS):
        if "validate_certs" in from_env:
            from_env["validate_certs"] = boolean(from_env["validate_certs"], strict=False)
        for key in ("kubeconfig", "ca_cert", "client_cert", "client_key"):
            if key in from_env:
                from_env[key] = os.path.expanduser(from_env[key])
        # Credentials given as options (not the cluster) still apply, as kubernetes.core lets options win.
        from_env.update((k, v) for k, v in given.items())
        return from_env, "K8S_AUTH_*"
    return given, None


def configuration_for(params, environ=None):
    """(Configuration, where it came from) following the precedence above; one clear error when none fits."""
    environ = os.environ if environ is None else environ
    settings, origin = auth_settings(params, environ)
    # Imported here, with the client (kubernetes.py): only the Kubernetes platforms pay for it.
    try:
        from kubernetes.client.configuration import Configuration
        from kubernetes.config import incluster_config
        from kubernetes.config.config_exception import ConfigException
    except ImportError as error:
        raise RollbackError("the kubernetes Python client is missing (pip install kubernetes): %s" % error)
    configuration = Configuration()
    from_env = origin == "K8S_AUTH_*"
    try:
        if settings.get("host"):
            configuration.host = settings["host"].rstrip("/")
            source = "K8S_AUTH_HOST" if from_env else "option host"
        elif settings.get("kubeconfig") or settings.get("context"):
            path = settings.get("kubeconfig") or _default_kubeconfig(environ)
            _load_kubeconfig(path, settings.get("context"), configuration)
            named = "K8S_AUTH_KUBECONFIG" if from_env and settings.get("kubeconfig") else "kubeconfig"
            source = "%s %s%s" % (named, path, " context %s" % settings["context"] if settings.get("context") else "")
        elif _default_kubeconfig(environ):
            path = _default_kubeconfig(environ)
            _load_kubeconfig(path, None, configuration)
            source = ("KUBECONFIG " if environ.get("KUBECONFIG") else "kubeconfig ") + path
        elif environ.get(incluster_config.SERVICE_HOST_ENV_NAME):
            incluster_config.InClusterConfigLoader(
                token_filename=incluster_config.SERVICE_TOKEN_FILENAME,
                cert_filename=incluster_config.SERVICE_CERT_FILENAME, environ=environ,
            ).load_and_set(configuration)
            source = "in-cluster service account"
        else:
            raise RollbackError("no Kubernetes configuration: give kubeconfig or host (or set K8S_AUTH_KUBECONFIG, "
                                "K8S_AUTH_HOST or KUBECONFIG), or run in a pod with a service account")
    except (ConfigException, OSError, ValueError) as error:
        raise RollbackError("cannot load the Kubernetes configuration: %s" % error)
    if settings.get("api_key"):  # instead of the kubeconfig's or the pod's token, whose refresh hook would restore it
        configuration.api_key = {"BearerToken": "Bearer " + settings["api_key"]}
        configuration.refresh_api_key_hook = None
    if settings.get("ca_cert"):
        configuration.ssl_ca_cert = settings["ca_cert"]
    if settings.get("client_cert"):
        configuration.cert_file = settings["client_cert"]
    if settings.get("client_key"):
        configuration.key_file = settings["client_key"]
    if settings.get("validate_certs") is not None:
        configuration.verify_ssl = settings["validate_certs"]
    # Our own retries (kubernetes.py) know the wait's deadline; urllib3's would multiply the timeouts.
    configuration.retries = False
    return configuration, "%s (%s)" % (configuration.host, source)


def _default_kubeconfig(environ):
    if environ.get("KUBECONFIG"):
        return environ["KUBECONFIG"]
    home = os.path.expanduser("~/.kube/config")
    return home if os.path.isfile(home) else None


def _load_kubeconfig(path, context, configuration):
    if path is None:
        raise RollbackError("context %s given but no kubeconfig: give kubeconfig or set KUBECONFIG" % context)
    from kubernetes.config import kube_config

    # persist_config=False: a token refresh never rewrites the operator's kubeconfig.
    kube_config.load_kube_config(config_file=path, context=context, client_configuration=configuration,
                                 persist_config=False)
