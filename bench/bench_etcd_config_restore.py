"""Restore 10,000 etcd keys: etcd_config_restore vs runbook 004's loop and one raw etcdctl txn.

Each run starts from the same state (10,000 keys with live values) and ends with
the backup's values. Run with the lab up: .venv/bin/python bench/bench_etcd_config_restore.py
"""

import json
import os
import subprocess
import tempfile
import time

from common import lab_facts, ratio_line, run_module, timed

import etcd3gw

KEYS = 10000
LOOP_SAMPLE = 200
PREFIX = "/bench/config/"


def main():
    lab = lab_facts()
    endpoint = lab["LAB_ETCD_ENDPOINT"]
    host, port = endpoint.rsplit("//", 1)[1].split(":")
    client = etcd3gw.client(host=host, port=int(port))
    keys = ["%sk%05d" % (PREFIX, n) for n in range(KEYS)]
    backup = dict((key, "restored-%s" % key[-5:]) for key in keys)
    workdir = tempfile.mkdtemp(prefix="bench-etcd-")
    backup_path = os.path.join(workdir, "backup.json")
    with open(backup_path, "w") as handle:
        json.dump(backup, handle)

    def live_state():
        client.delete_prefix(PREFIX)
        puts = [{"request_put": {"key": etcd3gw.utils._encode(k), "value": etcd3gw.utils._encode("live")}}
                for k in keys]
        client.transaction({"compare": [], "success": puts, "failure": []})

    etcdctl_env = dict(os.environ, ETCDCTL_API="3")

    def module_restore():
        result = run_module("etcd_config_restore", dict(endpoints=[endpoint], prefix=PREFIX, backup=backup_path,
                                                        save_current_to=os.path.join(workdir, "current.json")))
        assert len(result["updated"]) == KEYS, result

    txn_input = "\n" + "".join('put %s "%s"\n' % (k, v) for k, v in backup.items()) + "\n\n"

    def raw_txn():
        subprocess.run(["etcdctl", "--endpoints", endpoint, "txn"], input=txn_input, text=True, env=etcdctl_env,
                       check=True, capture_output=True)

    def loop_sample():
        for key in keys[:LOOP_SAMPLE]:
            subprocess.run(["etcdctl", "--endpoints", endpoint, "put", key, backup[key]], env=etcdctl_env,
                           check=True, capture_output=True)

    ours = timed(module_restore, repeat=3, setup=live_state)
    txn = timed(raw_txn, repeat=3, setup=live_state)
    live_state()
    began = time.perf_counter()
    loop_sample()
    loop = (time.perf_counter() - began) * KEYS / LOOP_SAMPLE
    client.delete_prefix(PREFIX)
    print("etcd restore of %d keys (module: read, diff, save current, one guarded txn)" % KEYS)
    print("runbook loop extrapolated from %d etcdctl put calls: %.1fs" % (LOOP_SAMPLE, loop))
    ratio_line("etcd_config_restore vs runbook loop", ours, "loop", loop, "<= 0.01, i.e. >= 100x faster")
    print("speed-up over the runbook loop: %.0fx (target >= 100x)" % (loop / ours))
    ratio_line("etcd_config_restore vs raw etcdctl txn", ours, "etcdctl txn", txn, "<= 2.0")


if __name__ == "__main__":
    main()
