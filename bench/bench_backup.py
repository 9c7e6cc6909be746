"""Taking a restore point on the lab, per kind of item, and the backup playbook for one service and its database.

Per kind: rollback.core.backup (one module process, as Ansible runs it on the target: the item written 0600
under its restore's name, its sha256 and the manifest) against the bare command a deploy script would run:
  etcd        etcdctl get --prefix -w json > file
  kubernetes  kubectl get configmap demo-config -o json > file
  env_file    cp app.env app.env.backup-<stamp>
  postgres    pg_dump -Fc -f file
  rds         aws rds create-db-snapshot (moto answers at once; AWS takes minutes, which both wait for)
Playbook: ansible-playbook playbooks/backup.yml -e services=demo-server (env file, etcd, pg_dump of demo-postgres),
against the same three bare commands one after the other.
Run with the lab up (and deployed once: ./dev lab start; labctl deploy 1.0.0):
  .venv/bin/python bench/bench_backup.py [--repeat N]
"""

import argparse
import os
import shutil
import subprocess
import tempfile
import time

from common import REPO, lab_facts, ratio_line, run_module, timed

VENV_BIN = os.path.join(REPO, ".venv", "bin")
PG_BIN = "/usr/lib/postgresql/15/bin"


def bare(command, env=None, output=None):
    with open(output or os.devnull, "w") as stream:
        subprocess.run(command, check=True, stdout=stream, env=dict(os.environ, **(env or {})))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    lab = lab_facts()
    work = tempfile.mkdtemp(prefix="bench-backup-")
    manifests = os.path.join(work, "manifests")
    env_file = os.path.join(lab["LAB_DIR"], "server", "shared", "app.env")
    aws = dict(endpoint_url=lab["LAB_AWS_ENDPOINT"], region="us-east-1", access_key="testing", secret_key="testing")
    aws_env = dict(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1")
    pg = dict(db="demo", login_host="127.0.0.1", login_port=int(lab["LAB_PG_PORT"]), login_user="postgres",
              login_password=lab["LAB_PG_PASSWORD"], pg_bin_dir=PG_BIN, dump_dir=os.path.join(work, "db"))
    kinds = [
        ("etcd", dict(prefix=lab["LAB_ETCD_PREFIX"], endpoints=[lab["LAB_ETCD_ENDPOINT"]],
                      backup_dir=os.path.join(work, "etcd")),
         lambda out: bare(["etcdctl", "--endpoints", lab["LAB_ETCD_ENDPOINT"], "get", "--prefix",
                           lab["LAB_ETCD_PREFIX"], "-w", "json"], output=out)),
        ("kubernetes", dict(configmaps=["demo-config"], kubeconfig=lab["LAB_KUBECONFIG"],
                            backup_dir=os.path.join(work, "kubernetes")),
         lambda out: bare(["kubectl", "--kubeconfig", lab["LAB_KUBECONFIG"], "get", "configmap", "demo-config",
                           "-o", "json"], output=out)),
        ("env_file", dict(path=env_file, backup_dir=os.path.join(work, "env")),
         lambda out: shutil.copyfile(env_file, out)),
        ("postgres", pg,
         lambda out: bare([os.path.join(PG_BIN, "pg_dump"), "-Fc", "-h", "127.0.0.1", "-p", str(lab["LAB_PG_PORT"]),
                           "-U", "postgres", "-d", "demo", "-f", out], env=dict(PGPASSWORD=lab["LAB_PG_PASSWORD"]))),
        ("rds", dict(db_instance_identifier="demo-db", **aws),
         lambda out: bare(["aws", "--endpoint-url", lab["LAB_AWS_ENDPOINT"], "rds", "create-db-snapshot",
                           "--db-instance-identifier", "demo-db", "--db-snapshot-identifier",
                           "bench-bare-%d" % int(time.time() * 1e6)], env=aws_env)),
    ]
    for kind, options, baseline in kinds:
        item = dict(options, kind=kind, owner="bench", manifest_dir=manifests)
        ours = timed(lambda item=item: run_module("backup", item), args.repeat)
        theirs = timed(lambda baseline=baseline, kind=kind: baseline(os.path.join(work, "bare-%s" % kind)), args.repeat)
        ratio_line("backup %-10s" % kind, ours, "bare command", theirs)

    playbook_env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"),
                        PATH=VENV_BIN + os.pathsep + os.environ["PATH"])
    command = [os.path.join(VENV_BIN, "ansible-playbook"), os.path.join(REPO, "playbooks", "backup.yml"),
               "-i", os.path.join(REPO, "inventories", "lab"), "-e", "services=demo-server"]
    ours = timed(lambda: subprocess.run(command, env=playbook_env, check=True, capture_output=True), args.repeat)
    theirs = timed(lambda: [kinds[i][2](os.path.join(work, "bare-all-%d" % i)) for i in (0, 2, 3)], args.repeat)
    ratio_line("backup.yml services=demo-server (env file, etcd, pg_dump)", ours, "the three bare commands", theirs)
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
