"""kubesim: a Kubernetes API server simulator for the lab and the tests (no real API server can run here).

    python3 -m kubesim.server --port 56443 [--kubeconfig PATH] [--settings settings.json] [--rbac]

Plain HTTP on loopback. docs/lab.md ("verified against") lists what it models from upstream and what not.
"""

import argparse
import base64
import os
import sys
from http.server import ThreadingHTTPServer

if __package__ in (None, ""):  # run as a file: make the package importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    __package__ = "kubesim"  # noqa: A001

from kubesim.api import Handler  # noqa: E402
from kubesim.cluster import Cluster  # noqa: E402
from kubesim.rbac import Authenticator  # noqa: E402
from kubesim.settings import Settings  # noqa: E402
from kubesim.tls import certificate, server_context  # noqa: E402

KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters:
- name: kubesim
  cluster:
    server: {scheme}://127.0.0.1:{port}{ca}
contexts:
- name: kubesim
  context:
    cluster: kubesim
    user: kubesim
    namespace: default
current-context: kubesim
users:
- name: kubesim
  user:
    token: {token}
"""


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address, cluster):
        handler = type("KubesimHandler", (Handler,), {"cluster": cluster,
                                                      "authenticator": Authenticator(cluster.settings,
                                                                                     cluster.api.store)})
        super().__init__(address, handler)
        self.cluster = cluster

    def shutdown(self):
        self.cluster.stop()
        super().shutdown()


def kubeconfig_text(server, token):
    """A kubeconfig for this server and token (HTTPS with the server's CA in RBAC mode)."""
    if server.ca_pem:
        return KUBECONFIG.format(scheme="https", port=server.server_address[1], token=token,
                                 ca="\n    certificate-authority-data: " + base64.b64encode(server.ca_pem).decode())
    return KUBECONFIG.format(scheme="http", port=server.server_address[1], token=token, ca="")


def serve(port, kubeconfig=None, settings=None):
    """A server with its own cluster (controllers started) on 127.0.0.1:port (0: a free port). In RBAC mode it
    serves HTTPS with a self-signed certificate: kubectl sends bearer tokens only over TLS."""
    cluster = Cluster(settings).start()
    server = Server(("127.0.0.1", port), cluster)
    server.ca_pem = None
    if cluster.settings.rbac:
        server.ca_pem, key = certificate()
        server.socket = server_context(server.ca_pem, key).wrap_socket(server.socket, server_side=True)
    if kubeconfig:
        with open(kubeconfig, "w") as handle:
            handle.write(kubeconfig_text(server, cluster.settings.admin_token))
    return server


def main():
    parser = argparse.ArgumentParser(description="Kubernetes API simulator")
    parser.add_argument("--port", type=int, default=56443)
    parser.add_argument("--kubeconfig", help="write a kubeconfig for this server here")
    parser.add_argument("--settings", help="JSON file of Settings (ready_delay, broken, never_ready, ...)")
    parser.add_argument("--rbac", action="store_true", help="authenticate tokens and authorize with RBAC")
    args = parser.parse_args()
    settings = Settings.load(args.settings) if args.settings else Settings()
    settings.rbac = settings.rbac or args.rbac
    serve(args.port, args.kubeconfig, settings).serve_forever()


if __name__ == "__main__":
    main()
