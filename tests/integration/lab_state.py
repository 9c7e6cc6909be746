"""The lab's whole state, for before/after comparisons of runs that must change nothing (test_bad_input.py)."""

import json
import os
import urllib.request

import boto3
import docker
import etcd3gw
from playbook_runs import databases, db_items


def lab_state(lab):
    """What the lab holds, as JSON values (the same whether read here or in a callback and loaded from its file)."""
    etcd = etcd3gw.client(host="127.0.0.1", port=int(lab["LAB_ETCD_ENDPOINT"].rsplit(":", 1)[1]))
    keys = sorted((meta["key"], value) for value, meta in etcd.get_prefix("/demo/"))
    with urllib.request.urlopen(lab["LAB_KUBE_HOST"] + "/apis/apps/v1/namespaces/default/deployments/demo") as r:
        deployment = json.load(r)
    with urllib.request.urlopen(lab["LAB_KUBE_HOST"] + "/api/v1/namespaces/default/configmaps/demo-config") as r:
        configmap = json.load(r)["data"]
    client = docker.DockerClient(base_url=lab["DOCKER_HOST"])
    images = sorted(c.attrs["Config"]["Image"] for c in client.containers.list(all=True, filters={
        "label": "com.docker.compose.project=demo"}))
    rds = boto3.client("rds", endpoint_url=lab["LAB_AWS_ENDPOINT"], region_name="us-east-1",
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    with open(lab["LAB_SERVER_ENV_FILE"]) as handle:
        env_file = handle.read()
    locks = os.path.join(lab["LAB_DIR"], "locks")
    return json.loads(json.dumps(dict(
        items=db_items(lab), databases=databases(lab), etcd=keys, configmap=configmap,
        deployment=(deployment["spec"], deployment["metadata"].get("annotations")), compose=images,
        current=os.readlink(os.path.join(lab["LAB_SERVER_RELEASES_DIR"], "current")), env_file=env_file,
        rds=sorted(i["DBInstanceIdentifier"] for i in rds.describe_db_instances()["DBInstances"]),
        locks=sorted(os.listdir(locks)) if os.path.isdir(locks) else [],
    ), default=str))
