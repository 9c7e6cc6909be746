"""Restore a >= 200 MB dump: postgres_restore vs the runbook, with and without the emergency dump.

The runbook (001 step 3, 004): dropdb; createdb; pg_restore -j N, which loses
the live database. The module restores beside it, carries its identity over,
verifies, compares privileges and swaps, keeping it. Measured:

1. restore + swap (emergency_backup=false): the part the runbook also does; target <= 1.15;
2. the default path (emergency_backup=true, what production runs): the emergency
   pg_dump -Fc of the live database comes first, and the runbook has nothing like it;
3. that emergency dump's cost alone: the difference of 2 and 1, and a bare pg_dump -Fc at its default
   compression (the module dumps at -Z1 by default: emergency_backup_compression).

The live database has the identity of a production one (grants, settings, a role
setting, a connection limit, a comment), so carrying it over is measured too.
Each run starts from the same live database (a template copy, untimed).
Run with the lab up: .venv/bin/python bench/bench_postgres_restore.py [jobs [repeat]]
"""

import os
import shutil
import statistics
import subprocess
import sys
import tempfile

from common import REPO, lab_facts, ratio_line, run_module, timed

import psycopg2

ROWS = 2200000
JOBS = int(sys.argv[1]) if len(sys.argv) > 1 else 2
REPEAT = int(sys.argv[2]) if len(sys.argv) > 2 else 3
IDENTITY = [
    "REVOKE ALL ON DATABASE bench_live FROM PUBLIC",
    "GRANT CONNECT ON DATABASE bench_live TO bench_app",
    "ALTER DATABASE bench_live SET statement_timeout = '30s'",
    "ALTER DATABASE bench_live SET search_path = public",
    "ALTER ROLE bench_app IN DATABASE bench_live SET lock_timeout = '3s'",
    "ALTER DATABASE bench_live CONNECTION LIMIT 100",
    "COMMENT ON DATABASE bench_live IS 'benchmark'",
]


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
    if not sql("SELECT 1 FROM pg_roles WHERE rolname = 'bench_app'"):
        sql("CREATE ROLE bench_app NOLOGIN")
    if not os.path.exists(dump) or os.path.getsize(dump) < 200 * 1024 * 1024 or not sql(
            "SELECT 1 FROM pg_database WHERE datname = 'bench_src'"):
        sql("DROP DATABASE IF EXISTS bench_src")
        sql("CREATE DATABASE bench_src")
        sql("CREATE TABLE events (id bigint PRIMARY KEY, account int, payload text, created timestamptz DEFAULT now());"
            "INSERT INTO events (id, account, payload) SELECT g, g %% 1000, md5(g::text) || md5((g * 7)::text) || "
            "md5((g * 13)::text) FROM generate_series(1, %d) g;"
            "CREATE INDEX events_account ON events (account);"
            "GRANT SELECT ON events TO bench_app;" % ROWS, "bench_src")
        tool("pg_dump", "--format=custom", "--compress=0", "--file", dump, "bench_src")
    size_mb = os.path.getsize(dump) / 1024.0 / 1024.0
    emergency_dir = tempfile.mkdtemp(prefix="bench-emergency-", dir=directory)

    def fresh_live():
        for row in sql("SELECT datname FROM pg_database WHERE datname LIKE 'bench_live%'"):
            sql("DROP DATABASE %s WITH (FORCE)" % row[0])
        sql("CREATE DATABASE bench_live TEMPLATE bench_src")
        for statement in IDENTITY:
            sql(statement)
        for name in os.listdir(emergency_dir):
            os.remove(os.path.join(emergency_dir, name))

    def runbook():
        tool("dropdb", "bench_live")
        tool("createdb", "bench_live")
        tool("pg_restore", "--jobs", str(JOBS), "--dbname", "bench_live", dump)

    def module(emergency_backup):
        def run():
            run_module("postgres_restore", dict(
                login_host=lab["LAB_PG_HOST"], login_port=int(lab["LAB_PG_PORT"]), login_user=lab["LAB_PG_USER"],
                login_password=lab["LAB_PG_PASSWORD"], db="bench_live", dump=dump, jobs=JOBS,
                emergency_backup=emergency_backup, emergency_backup_dir=emergency_dir, pg_bin_dir=lab["LAB_PG_BIN"],
                verify=[dict(sql="SELECT count(*) FROM events", expect=ROWS, as_role="bench_app")]))
        return run

    def bare_pg_dump():
        tool("pg_dump", "--format=custom", "--file", os.path.join(emergency_dir, "bare.dump"), "bench_live")

    # Interleaved (runbook, module, module with the emergency dump, bare pg_dump) so that the load of a shared
    # machine falls on all of them alike; medians of REPEAT.
    variants = dict(baseline=runbook, swap_only=module(False), default=module(True), dump_alone=bare_pg_dump)
    times = dict((name, []) for name in variants)
    for _round in range(REPEAT):
        for name, func in variants.items():
            times[name].append(timed(func, repeat=1, setup=fresh_live))
    baseline, swap_only, default, dump_alone = (statistics.median(times[name]) for name in variants)
    fresh_live()
    sql("DROP DATABASE bench_live")
    shutil.rmtree(emergency_dir)
    print("dump: %.0f MB custom format, %d rows, pg_restore -j %d" % (size_mb, ROWS, JOBS))
    ratio_line("postgres_restore restore + swap (identity carried, verify as bench_app, privileges compared, old "
               "database kept; emergency_backup=false)", swap_only,
               "dropdb; createdb; pg_restore (old database lost)", baseline, "<= 1.15")
    ratio_line("postgres_restore default path (emergency pg_dump -Fc first)", default,
               "dropdb; createdb; pg_restore (old database lost)", baseline)
    print("emergency dump: %.3fs in the module (default - restore + swap, pg_dump -Fc -Z1); a bare pg_dump -Fc "
          "(default compression) of the live database takes %.3fs" % (default - swap_only, dump_alone), flush=True)


if __name__ == "__main__":
    main()
