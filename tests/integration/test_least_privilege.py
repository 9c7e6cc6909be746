"""docs/least-privilege: the IAM policy and the Kubernetes Role match the calls the code makes, and a
PostgreSQL role with only the documented privileges runs a whole restore on the lab's PostgreSQL."""

import glob
import json
import os
import re
import subprocess
import uuid

import boto3
import psycopg2
import pytest
import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DOCS = os.path.join(REPO, "docs", "least-privilege")
UTILS = os.path.join(REPO, "plugins", "module_utils")


def source(*names):
    text = ""
    for name in names:
        with open(os.path.join(UTILS, name)) as handle:
            text += handle.read()
    return text


# IAM actions whose names differ from the API call's (S3 authorises by what is done to objects and buckets).
S3_ACTIONS = {"list_objects_v2": ["s3:ListBucket"], "get_bucket_versioning": ["s3:GetBucketVersioning"],
              "head_object": ["s3:GetObject"], "get_object": ["s3:GetObject"], "put_object": ["s3:PutObject"],
              "copy_object": ["s3:GetObject", "s3:PutObject"], "delete_objects": ["s3:DeleteObject"]}
RDS_FILES = sorted(os.path.basename(path) for path in glob.glob(os.path.join(UTILS, "rds*.py")))
AWS_SOURCES = {"rds": ("rds", RDS_FILES), "elasticloadbalancing": ("elbv2", ["elb.py"]),
               "s3": ("s3", ["s3.py", "frontend.py"]), "cloudfront": ("cloudfront", ["cloudfront.py"]),
               "ec2": ("ec2", ["rds_cutover.py"])}


def calls(*names):
    return set(re.findall(r"\.(?:call|not_found|paginate)\(\s*\"([a-z0-9_]+)\"", source(*names)))


def rds_calls(mapping):
    """The RDS code names its operations in tables (one per resource kind): every boto3 method name it holds."""
    return set(re.findall(r"\"([a-z0-9_]+)\"", source(*RDS_FILES))) & set(mapping)


def test_iam_policy_allows_exactly_the_aws_calls_the_code_makes():
    used = set()
    for prefix, (service, files) in AWS_SOURCES.items():
        mapping = boto3.client(service, region_name="us-east-1").meta.method_to_api_mapping
        methods = rds_calls(mapping) if prefix == "rds" else calls(*files)
        assert methods, "no AWS call found in %s" % files
        if prefix == "s3":
            for method in methods:
                used.update(S3_ACTIONS[method])
            continue
        used.update("%s:%s" % (prefix, mapping[method]) for method in methods)
    assert "Tags" in source("rds.py"), "the restore tags the instance"
    used.add("rds:AddTagsToResource")
    # Passing an enhanced-monitoring role to RDS is authorised as iam:PassRole on that role (RDS User Guide,
    # "Setting up and enabling Enhanced Monitoring").
    assert "MonitoringRoleArn" in source("rds_settings.py")
    used.add("iam:PassRole")
    with open(os.path.join(DOCS, "iam-policy.json")) as handle:
        policy = json.load(handle)
    allowed = set(action for statement in policy["Statement"] for action in statement["Action"])
    assert allowed == used
    assert not any("Delete" in action for action in allowed if not action.startswith("s3:")), \
        "no instance, snapshot, target group or distribution is ever deleted"


# What a Kube call's first argument names, when it is not a literal: (file, function, expression) -> resources.
KUBE_ARGUMENTS = {
    ("kubernetes_undo.py", "undo", "PLURAL[kind]"): ("deployments", "statefulsets", "daemonsets"),
    ("kubernetes_undo.py", "probe", "PLURAL[kind]"): ("deployments", "statefulsets", "daemonsets"),
    ("kubernetes_wait.py", "read", "PLURAL[kind]"): ("deployments", "statefulsets", "daemonsets"),
    ("kubernetes_traffic.py", "read", "self.plural"): ("deployments", "statefulsets"),
    ("kubernetes_traffic.py", "scale", "self.plural"): ("deployments", "statefulsets"),
    ("kubernetes_traffic.py", "mark", "self.plural"): ("deployments", "statefulsets"),
    ("kubernetes_traffic.py", "_listed", "resource"): ("horizontalpodautoscalers", "scaledobjects"),
    ("kubernetes_gitops.py", "_read", "resource"): ("applications", "kustomizations", "helmreleases"),
    ("kubernetes_config.py", "restore", "PLURAL[item['kind']]"): ("configmaps", "secrets"),
    ("kubernetes_config.py", "_read", "PLURAL[item['kind']]"): ("configmaps", "secrets"),
    ("kubernetes_config.py", "_replace", "plural"): ("configmaps", "secrets"),
}


def kube_calls():
    """(group, resource[/sub], RBAC verb) of every Kube call in plugins/module_utils/kubernetes*.py."""
    import ast

    from ansible_collections.rollback.core.plugins.module_utils import kubernetes

    used, unknown = set(), []
    for path in sorted(glob.glob(os.path.join(UTILS, "kubernetes*.py"))):
        tree = ast.parse(open(path).read())
        for function in ast.walk(tree):
            if not isinstance(function, ast.FunctionDef):
                continue
            for call in own_nodes(function):
                if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
                        and call.func.attr in KUBE_VERBS and ast.unparse(call.func.value).endswith("kube")):
                    continue
                argument = call.args[0]
                key = (os.path.basename(path), function.name, ast.unparse(argument))
                if isinstance(argument, ast.Constant):
                    resources = (argument.value,)
                elif key in KUBE_ARGUMENTS:
                    resources = KUBE_ARGUMENTS[key]
                else:
                    unknown.append(key)
                    continue
                sub = next((k.value.value for k in call.keywords if k.arg == "sub"), None)
                for resource in resources:
                    group = kubernetes.RESOURCES[resource][0].split("/")[2] if kubernetes.RESOURCES[resource][
                        0].startswith("/apis/") else ""
                    used.add((group, resource + ("/" + sub if sub else ""), KUBE_VERBS[call.func.attr]))
    assert not unknown, "add these Kube call arguments to KUBE_ARGUMENTS: %s" % unknown
    return used


def own_nodes(function):
    """The nodes of a function, not of the functions defined inside it."""
    import ast

    pending = list(ast.iter_child_nodes(function))
    while pending:
        node = pending.pop()
        yield node
        if not isinstance(node, (ast.FunctionDef, ast.Lambda)):
            pending.extend(ast.iter_child_nodes(node))


# Kube's methods are named after the RBAC verbs.
KUBE_VERBS = {"get": "get", "list": "list", "patch": "patch", "create": "create", "delete": "delete"}


def test_kubernetes_roles_grant_exactly_the_calls_the_code_makes():
    """The Roles of k8s-rbac.yaml (the main one and the two optional ones) together grant exactly the calls of the
    code; tests/integration/kubesim/test_kubesim_rbac.py runs the modules with the main Role on the simulator's
    RBAC authorizer."""
    with open(os.path.join(DOCS, "k8s-rbac.yaml")) as handle:
        roles = [item for item in yaml.safe_load(handle)["items"] if item["kind"] in ("Role", "ClusterRole")]
    granted = set((group, resource, verb) for role in roles for rule in role["rules"] for group in rule["apiGroups"]
                  for resource in rule["resources"] for verb in rule["verbs"])
    assert granted == kube_calls()
    assert not any(verb == "delete" for role in roles if role["metadata"]["name"] == "rollback-core"
                   for rule in role["rules"] for verb in rule["verbs"]), "deleting is opt-in (replace_immutable)"


@pytest.fixture
def restricted(lab):
    """A role with only postgres-role.sql's privileges, owning a database with data, and its dump."""
    suffix = uuid.uuid4().hex[:6]
    role, db, password = "rb_role_" + suffix, "rb_db_" + suffix, "rb-pass-" + suffix
    admin = psycopg2.connect(host=lab["LAB_PG_HOST"], port=lab["LAB_PG_PORT"], user=lab["LAB_PG_USER"],
                             password=lab["LAB_PG_PASSWORD"], dbname="postgres")
    admin.autocommit = True
    with open(os.path.join(DOCS, "postgres-role.sql")) as handle:
        statements = [line.split("--")[0].strip() for line in handle if line.strip() and not line.startswith("--")]
    with admin.cursor() as cursor:
        cursor.execute("CREATE DATABASE %s" % db)
        for statement in statements:
            cursor.execute(statement.replace(":role", role).replace(":db", db).replace(":password", "'%s'" % password))
    as_role = dict(host=lab["LAB_PG_HOST"], port=lab["LAB_PG_PORT"], user=role, password=password)
    with psycopg2.connect(dbname=db, **as_role) as connection, connection.cursor() as cursor:
        cursor.execute("CREATE TABLE t (id int); INSERT INTO t VALUES (1), (2)")
    dump = os.path.join(lab["LAB_DIR"], "%s.dump" % db)
    subprocess.run([os.path.join(lab["LAB_PG_BIN"], "pg_dump"), "-Fc", "-h", lab["LAB_PG_HOST"], "-p",
                    str(lab["LAB_PG_PORT"]), "-U", role, "-d", db, "-f", dump],
                   env=dict(os.environ, PGPASSWORD=password), check=True)
    with psycopg2.connect(dbname=db, **as_role) as connection, connection.cursor() as cursor:
        cursor.execute("INSERT INTO t VALUES (3)")
    yield dict(role=role, db=db, password=password, dump=dump)
    with admin.cursor() as cursor:
        cursor.execute("SELECT datname FROM pg_database WHERE datname LIKE %s", (db + "%",))
        for (name,) in cursor.fetchall():
            cursor.execute("DROP DATABASE %s WITH (FORCE)" % name)
        cursor.execute("DROP OWNED BY %s" % role)
        cursor.execute("DROP ROLE %s" % role)
    admin.close()
    os.remove(dump)


def test_a_role_with_only_the_documented_privileges_runs_the_restore(ansible_module, lab, restricted, tmp_path):
    run = ansible_module("postgres_restore", dict(
        db=restricted["db"], dump=restricted["dump"], login_host=lab["LAB_PG_HOST"],
        login_port=int(lab["LAB_PG_PORT"]), login_user=restricted["role"], login_password=restricted["password"],
        pg_bin_dir=lab["LAB_PG_BIN"], emergency_backup_dir=str(tmp_path / "emergency")))
    assert not run.failed, run.stdout[-3000:]
    assert run.result["changed"] and os.path.exists(run.result["emergency_backup"])
    as_role = dict(host=lab["LAB_PG_HOST"], port=lab["LAB_PG_PORT"], user=restricted["role"],
                   password=restricted["password"])
    with psycopg2.connect(dbname=restricted["db"], **as_role) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT id FROM t ORDER BY id")
        assert [row[0] for row in cursor.fetchall()] == [1, 2], "restored to the dump"
    with psycopg2.connect(dbname=run.result["previous_db"], **as_role) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT id FROM t ORDER BY id")
        assert [row[0] for row in cursor.fetchall()] == [1, 2, 3], "the old database is kept"
    assert glob.glob(str(tmp_path / "emergency" / "*.dump"))
