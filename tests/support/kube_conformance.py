"""Objects and kubectl helpers for the kubesim conformance suite (tests/integration/kubesim)."""

import json

import yaml


def deployment(name, image="app:1", replicas=2, **spec):
    obj = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
           "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                    "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [
                        {"name": "web", "image": image, "env": [{"name": "A", "value": "1"}],
                         "ports": [{"containerPort": 8080}]},
                        {"name": "proxy", "image": "proxy:1"}]}}}}
    obj["spec"].update(spec)
    return obj


def kget(sim, ns, *args):
    return json.loads(sim.kubectl("get", "-n", ns, "-o", "json", *args).stdout)


def create(sim, ns, *objects):
    return sim.kubectl("create", "-n", ns, "-f", "-", stdin=yaml.safe_dump_all(objects))
