"""Restore a >= 200 MB dump: postgres_restore (swap included, emergency backup excluded) vs the runbook.

The runbook (001 step 3, 004): dropdb; createdb; pg_restore -j N, which loses
the live database. The module restores beside it and swaps, keeping it.
Each run starts from the same live database (a template copy, untimed).
Run with the lab up: .venv/bin/python bench/bench_postgres_restore.py [jobs]
"""

import os
import subprocess
import sys

from common import REPO, lab_facts, ratio_line, run_module, timed

import psycopg2

ROWS = 2200000
JOBS = int(sys.argv[1]) if len(sys.argv) > 1 else 2


def main():
    lab = lab_facts()
    env = dict(os.environ, PGPASSWORD=lab["LAB_PG_PASSWORD"])
    conn_args = ["-h", lab["LAB_PG_HOST"], "-p", str(lab["LAB_PG_PORT"]), "-U", lab["LAB_PG_USER"]]

    def tool(name, *args):
        subprocess.run([os.path.join(lab["LAB_PG_BIN"], name)] + conn_args + list(args), env=env, check=True,
                       capture_output=True)

    def sql(statement, database="postgres"):
        connection = psycopg2.connect(host=lab["LAB_PG_HOST"], port=lab["LAB_PG_PORT"], user=lab["LAB_PG_USER"],
                                      password=lab["LAB_PG_PASSWORD"], dbname=database)
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute(statement)
            rows = cursor.fetchall() if cursor.description else None
        connection.close()
        return rows

    directory = os.path.join(REPO, ".lab", "bench")
    os.makedirs(directory, exist_ok=True)
    dump = os.path.join(directory, "bench-200mb.dump")
    if not os.path.exists(dump) or os.path.getsize(dump) < 200 * 1024 * 1024:
        sql("DROP DATABASE IF EXISTS bench_src")
        sql("CREATE DATABASE bench_src")
        sql("CREATE TABLE events (id bigint PRIMARY KEY, account int, payload text, created timestamptz DEFAULT now());"
            "INSERT INTO events (id, account, payload) SELECT g, g %% 1000, md5(g::text) || md5((g * 7)::text) || "
            "md5((g * 13)::text) FROM generate_series(1, %d) g;"
            "CREATE INDEX events_account ON events (account);" % ROWS, "bench_src")
        tool("pg_dump", "--format=custom", "--compress=0", "--file", dump, "bench_src")
    size_mb = os.path.getsize(dump) / 1024.0 / 1024.0

    def fresh_live():
        for row in sql("SELECT datname FROM pg_database WHERE datname LIKE 'bench_live%'"):
            sql("DROP DATABASE %s WITH (FORCE)" % row[0])
        sql("CREATE DATABASE bench_live TEMPLATE bench_src")

    def runbook():
        tool("dropdb", "bench_live")
        tool("createdb", "bench_live")
        tool("pg_restore", "--jobs", str(JOBS), "--dbname", "bench_live", dump)

    def module():
        run_module("postgres_restore", dict(
            login_host=lab["LAB_PG_HOST"], login_port=int(lab["LAB_PG_PORT"]), login_user=lab["LAB_PG_USER"],
            login_password=lab["LAB_PG_PASSWORD"], db="bench_live", dump=dump, jobs=JOBS, emergency_backup=False,
            pg_bin_dir=lab["LAB_PG_BIN"], verify=[dict(sql="SELECT count(*) FROM events", expect=ROWS)]))

    baseline = timed(runbook, repeat=2, setup=fresh_live)
    ours = timed(module, repeat=2, setup=fresh_live)
    fresh_live()
    print("dump: %.0f MB custom format, %d rows, pg_restore -j %d" % (size_mb, ROWS, JOBS))
    ratio_line("postgres_restore (verify + swap, old database kept)", ours,
               "dropdb; createdb; pg_restore (old database lost)", baseline, "<= 1.15")


if __name__ == "__main__":
    main()
