"""PostgreSQL 15 from Debian, run as the postgres user (initdb refuses root)."""

import glob
import os
import shutil

from labkit import pgbackrest
from labkit.common import LabError, ensure_port_free, run, wait_for

NAME = "postgres"
PORT = 55432
USER = "postgres"
PASSWORD = "lab-pg-secret"


def pg_bin():
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if os.path.exists(os.path.join(candidate, "pg_ctl")):
            return candidate
    raise LabError("PostgreSQL server not found in /usr/lib/postgresql: apt-get install postgresql")


def facts(lab):
    return {
        "LAB_PG_HOST": "127.0.0.1",
        "LAB_PG_PORT": PORT,
        "LAB_PG_USER": USER,
        "LAB_PG_PASSWORD": PASSWORD,
        "LAB_PG_BIN": pg_bin(),
        "LAB_PG_SOCKET_DIR": lab.path("postgres", "run"),
        "LAB_PG_DATABASE": "demo",
        **pgbackrest.facts(lab),
    }


def _pg(lab, tool):
    return os.path.join(pg_bin(), tool)


def _data(lab):
    return lab.path("postgres", "data")


def is_up(lab):
    completed = os.system("%s -q -h 127.0.0.1 -p %d >/dev/null 2>&1" % (_pg(lab, "pg_isready"), PORT))
    return completed == 0


def _initdb(lab):
    base = lab.makedirs("postgres")
    run_dir = lab.makedirs("postgres", "run")
    shutil.chown(base, USER, USER)
    shutil.chown(run_dir, USER, USER)
    os.chmod(lab.root, 0o755)
    pwfile = os.path.join(base, "pwfile")
    with open(pwfile, "w") as handle:
        handle.write(PASSWORD + "\n")
    shutil.chown(pwfile, USER, USER)
    run([_pg(lab, "initdb"), "-D", _data(lab), "-U", USER, "--pwfile", pwfile, "--auth-local=trust",
         "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8"], "initdb", user=USER)
    os.remove(pwfile)


def _archiving(lab):
    """Whether the running server archives into the lab's pgBackRest repository (a data dir started before
    archiving was added runs without it until restarted)."""
    env = dict(os.environ, PGPASSWORD=PASSWORD)
    psql = [_pg(lab, "psql"), "-h", "127.0.0.1", "-p", str(PORT), "-U", USER, "-d", "postgres", "-qtA", "-c",
            "SELECT current_setting('archive_mode') || ' ' || current_setting('archive_command')"]
    return run(psql, "psql", env).strip() == "on " + pgbackrest.archive_command(lab)


def start(lab):
    if os.path.exists(os.path.join(_data(lab), "postmaster.pid")) and is_up(lab):
        if _archiving(lab):
            backup = pgbackrest.ensure_backup(lab)
            return "already running, %s" % backup if backup else "already running"
        stop(lab)  # archive_mode only changes with a restart
    ensure_port_free(PORT, NAME)
    if not os.path.exists(os.path.join(_data(lab), "PG_VERSION")):
        _initdb(lab)
    pgbackrest.configure(lab, _data(lab), PORT, lab.path("postgres", "run"))
    log = lab.path("postgres", "postgres.log")
    # wal_level=logical and prepared transactions: what production databases with CDC and XA have, which
    # postgres_restore must detect (logical slots, prepared transactions) before a swap. WAL archived by pgBackRest.
    options = ("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off -c wal_level=logical "
               "-c max_prepared_transactions=10" % (PORT, lab.path("postgres", "run")))
    options += pgbackrest.archive_options(lab)
    run([_pg(lab, "pg_ctl"), "-D", _data(lab), "-l", log, "-o", options, "-w", "-t", "60", "start"],
        "pg_ctl start (see %s)" % log, user=USER)
    wait_for(lambda: is_up(lab), NAME, log)
    _seed_demo(lab)
    backup = pgbackrest.ensure_backup(lab, fresh=True)
    return "started, %s" % backup if backup else "started"


def _seed_demo(lab):
    env = dict(os.environ, PGPASSWORD=PASSWORD)
    psql = [_pg(lab, "psql"), "-h", "127.0.0.1", "-p", str(PORT), "-U", USER, "-v", "ON_ERROR_STOP=1", "-qtA"]
    exists = run(psql + ["-d", "postgres", "-c", "SELECT 1 FROM pg_database WHERE datname = 'demo'"], "psql", env)
    if exists.strip() != "1":
        run(psql + ["-d", "postgres", "-c", "CREATE DATABASE demo"], "create database demo", env)
        run(psql + ["-d", "demo", "-c",
                    "CREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL, created timestamptz DEFAULT now());"
                    "INSERT INTO items (name) SELECT 'item-' || g FROM generate_series(1, 100) g;"],
            "seed demo database", env)


def stop(lab):
    if not os.path.exists(os.path.join(_data(lab), "postmaster.pid")):
        return "not running"
    run([_pg(lab, "pg_ctl"), "-D", _data(lab), "-m", "fast", "-w", "stop"], "pg_ctl stop", user=USER)
    return "stopped"


def status(lab):
    return is_up(lab), "127.0.0.1:%d" % PORT
