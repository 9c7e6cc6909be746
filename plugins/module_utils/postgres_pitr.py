# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""postgres_restore ``pitr``: the database as it was at a moment, from a pgBackRest repository.

Before any change: the stanza's backups and archive are read (``pgbackrest info``), the target time is checked
against them and the backup set chosen (pgbackrest.choose); when the target is after the newest archived WAL and the
live server is the stanza's cluster (same system identifier), its current WAL segment is switched and archived first
(``pg_switch_wal()``; not in check mode). Then the same flow as a dump (postgres_dump_restore.restore: emergency dump,
side database with the live identity, verify, swap), whose side database is filled like this: the whole cluster is
restored into a scratch data directory (``pgbackrest restore --type=time --target-action=promote``, tablespaces
mapped into the scratch directory, archiving off), started as its own server (only a Unix socket in the scratch
directory, trust for local connections there and nowhere else, ``archive_mode=off``) with ``pg_ctl`` of the stanza's
PostgreSQL version, recovery waited for, the database dumped (``pg_dump -Fc``) and the dump restored into the side
database. The scratch server is stopped and its directory removed whatever happens.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import glob
import os
import pwd
import re
import shlex
import shutil
import socket
import tempfile
import time

from ansible_collections.rollback.core.plugins.module_utils import (
    backups,
    deploy_marker,
    pgbackrest,
    postgres_dump_restore,
)
from ansible_collections.rollback.core.plugins.module_utils.alertmanager import parse_time
from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError
from ansible_collections.rollback.core.plugins.module_utils.postgres import Connection
from ansible_collections.rollback.core.plugins.module_utils.postgres_dump import Tools
from ansible_collections.rollback.core.plugins.module_utils.progress import run_command
from ansible_collections.rollback.core.plugins.module_utils.toolkit import utc_iso
from ansible_collections.rollback.core.plugins.module_utils.wait import wait_until

PITR_OPTIONS = dict(
    stanza=dict(type="str", required=True),
    config=dict(type="path"),
    target_time=dict(type="str"),
    marker_dir=dict(type="path"),
    services=dict(type="list", elements="str", default=[]),
    os_user=dict(type="str"),
    pg_bin_dir=dict(type="path"),
    scratch_dir=dict(type="path"),
    scratch_port=dict(type="int"),
    recovery_timeout=dict(type="int", default=1800),
)
ARCHIVE_WAIT = 60


def restore(module):
    """postgres_restore with ``pitr``: plan (and refuse) first, then the dump flow with a scratch-cluster fill."""
    pitr = module.params["pitr"]
    plan = {}
    result = postgres_dump_restore.restore(module, lambda tools: _source(module, tools, plan))
    window = backups.data_loss_window(plan["target"])
    plan["report"]["archived_after_target_seconds"] = (
        None if plan["report"]["newest_wal"] is None else max(0, int(plan["newest_wal"] - plan["target"])))
    result.update(pitr=plan["report"], data_loss_window=window, backup_used="pgbackrest stanza %s backup set %s to "
                  "%s" % (pitr["stanza"], plan["set"]["label"], utc_iso(plan["target"])))
    return result


def _user(pitr):
    if pitr["os_user"]:
        try:
            pwd.getpwnam(pitr["os_user"])
        except KeyError:
            raise RollbackError("pitr os_user %s: no such user on this host; nothing was changed" % pitr["os_user"])
        return pitr["os_user"]
    if os.geteuid() != 0:
        return pwd.getpwuid(os.geteuid()).pw_name
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        raise RollbackError("pitr: running as root and no postgres user: set pitr os_user (PostgreSQL refuses to run "
                            "as root); nothing was changed")
    return "postgres"


def target_of(text, now=None):
    """Epoch seconds of the O(pitr.target_time) (RFC 3339 with its offset); not in the future."""
    try:
        target = parse_time(text)
    except ValueError:
        raise RollbackError("pitr target_time %r is not an ISO 8601 time with an offset (2026-01-01T12:00:00Z); "
                            "nothing was changed" % (text,))
    now = time.time() if now is None else now
    if target > now:
        raise RollbackError("pitr target_time %s is in the future; nothing was changed" % utc_iso(target))
    return target


def _target_time(pitr):
    """O(pitr.target_time), else the start of the newest deploy of O(pitr.services) (its first marker) in
    O(pitr.marker_dir)."""
    if pitr["target_time"]:
        return pitr["target_time"]
    if not pitr["marker_dir"] or not pitr["services"]:
        raise RollbackError("pitr needs target_time, or marker_dir and services (the last deploy's marker); nothing "
                            "was changed")
    problems = []
    marker = deploy_marker.newest_deploy_start(pitr["marker_dir"], pitr["services"], problems)
    if marker is None:
        raise RollbackError("pitr: no deploy marker of %s in %s to take the target time from%s; give target_time; "
                            "nothing was changed" % (", ".join(pitr["services"]), pitr["marker_dir"],
                                                     " (%s)" % "; ".join(problems) if problems else ""))
    return marker.document["started_at"]


def bin_dir(requested, version):
    """pg_ctl of the stanza's PostgreSQL major version (the restored data directory's)."""
    candidates = [requested] if requested else (glob.glob("/usr/lib/postgresql/%s/bin" % version) +
                                                glob.glob("/usr/pgsql-%s/bin" % version))
    for directory in candidates:
        if all(os.path.exists(os.path.join(directory, tool)) for tool in ("pg_ctl", "pg_dump", "psql")):
            return directory
    raise RollbackError("pitr: no pg_ctl, pg_dump and psql of PostgreSQL %s (%s); install the server package of "
                        "that version or set pitr pg_bin_dir; nothing was changed" % (
                            version, requested or "/usr/lib/postgresql/%s/bin, /usr/pgsql-%s/bin" % (version, version)))


def _source(module, tools, plan):
    params, pitr = module.params, module.params["pitr"]
    executed = tools.executed
    target = target_of(_target_time(pitr))
    user = _user(pitr)
    repo = pgbackrest.PgBackRest(pitr["config"], pitr["stanza"], executed, user)
    info = repo.info()
    version = info["db"][-1]["version"]
    directory = bin_dir(pitr["pg_bin_dir"], version)
    if pitr["scratch_dir"] and not os.path.isdir(pitr["scratch_dir"]):
        raise RollbackError("pitr scratch_dir %s is not a directory; nothing was changed" % pitr["scratch_dir"])
    chosen = pgbackrest.choose(info, target)
    newest_wal = repo.newest_wal_time(info)
    switch, tablespaces = None, None
    live = Connection(params, params["maintenance_db"], executed, label=False)
    try:
        same = _same_cluster(live, info)
        # Before the WAL switch (the set is the newest that ended by the target, whatever the archive). Compared
        # also when the cluster is unknown: a refusal there is safer than a replay into a live directory.
        if same is not False:
            tablespaces = refuse_new_tablespaces(live.query(LIVE_TABLESPACES), repo.set_tablespaces(chosen["label"]),
                                                 chosen["label"], pitr["stanza"])
        if newest_wal is None or target > newest_wal:
            if not same:
                pgbackrest.choose(info, target, newest_wal or 0)  # refuses: the archive does not reach the target
            switch = "the live server's current WAL segment switched and archived before the restore"
            if not module.check_mode:
                _switch_wal(live, repo)
                newest_wal = repo.newest_wal_time(repo.info())
                chosen = pgbackrest.choose(info, target, newest_wal)
    finally:
        live.close()
    plan.update(target=target, set=chosen, newest_wal=newest_wal, report=dict(
        stanza=pitr["stanza"], backup_set=chosen["label"], target_from="target_time" if pitr["target_time"] else
        "the deploy marker in %s" % pitr["marker_dir"], backup_type=chosen["type"],
        backup_end=utc_iso(chosen["stop"]), target_time=utc_iso(target), target=pgbackrest.target_text(target),
        newest_wal=utc_iso(newest_wal) if newest_wal else None, wal_switch=switch, pg_bin_dir=directory,
        os_user=user, scratch_removed=None, tablespaces=tablespaces))
    marker = "pgbackrest stanza %s set %s target %s" % (pitr["stanza"], chosen["label"], plan["report"]["target"])
    return dict(format="custom", toc=None, path=None, marker=marker,
                fill=lambda side, jobs: _fill(module, tools, repo, plan, side, jobs))


def _same_cluster(live, info):
    """Whether the live server is the stanza's cluster (pgBackRest's system-id is pg_control's identifier); None
    when the login may not read it (pg_control_system() is PUBLIC by default, some sites revoke it)."""
    try:
        system_id = live.value("SELECT system_identifier FROM pg_control_system()")
    except RollbackError:
        return None
    return str(system_id) == str(info["db"][-1]["system-id"])


LIVE_TABLESPACES = ("SELECT oid, spcname, pg_tablespace_location(oid) FROM pg_tablespace "
                    "WHERE spcname NOT IN ('pg_default', 'pg_global') ORDER BY oid")


def refuse_new_tablespaces(live, in_set, label, stanza):
    """The set's tablespace names; refuses when a live tablespace (``(oid, name, location)`` rows) is not in the set.

    Such a tablespace was created after the backup, so the WAL the scratch cluster replays holds its creation, with
    the live directory in it. Redo does not stop at a directory already in use: in recovery
    create_tablespace_directories (src/backend/commands/tablespace.c) skips the "already in use as a tablespace"
    check and links the scratch's pg_tblspc entry to the live directory, so the replay would write into the live
    server's files (same relfilenodes). pgBackRest's --tablespace-map-all maps only the set's own tablespaces.
    """
    held = set(int(item["oid"]) for item in in_set)
    after = ["%s (oid %s, %s)" % (name, oid, location) for oid, name, location in live if int(oid) not in held]
    if after:
        raise RollbackError(
            "pitr: tablespace %s of the live server %s not in backup set %s of stanza %s: created after that "
            "backup, its creation is in the WAL a restore replays, and redo would link the scratch cluster to the "
            "live directory and write into the live server's files; take a new full backup (pgbackrest --stanza=%s "
            "backup --type=full) and restore to a time after it, or restore from a dump; nothing was changed" % (
                ", ".join(after), "is" if len(after) == 1 else "are", label, stanza, stanza))
    return sorted(item["name"] for item in in_set)


def _switch_wal(live, repo):
    """Close the current WAL segment and wait until the archiver has pushed it."""
    try:
        segment = live.execute("SELECT pg_walfile_name(pg_switch_wal())")[0][0]
    except RollbackError as error:
        raise RollbackError("the WAL since %s is not archived yet and %s (%s); nothing was changed" % (
            "the newest archived segment", "pg_switch_wal() failed", error.msg))

    def archived():
        last = live.value("SELECT last_archived_wal FROM pg_stat_archiver") or ""
        return last[:24] >= segment, "last archived %s, waiting for %s" % (last or "none", segment)
    wait_until(archived, "the archiving of WAL segment %s into stanza %s" % (segment, repo.stanza), ARCHIVE_WAIT, 1)


def _free_port():
    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
    finally:
        probe.close()


def _own(path, user):
    if os.geteuid() == 0:
        shutil.chown(path, user, pwd.getpwnam(user).pw_gid)


def _fill(module, tools, repo, plan, side, jobs):
    """Restore the cluster into a scratch directory, start it, dump the database, restore the dump into ``side``;
    the scratch server stopped and its directory removed always."""
    pitr, db = module.params["pitr"], module.params["db"]
    user, directory = plan["report"]["os_user"], plan["report"]["pg_bin_dir"]
    scratch = tempfile.mkdtemp(prefix="rollback-pitr-%s-" % db, dir=pitr["scratch_dir"])
    data, run_dir = os.path.join(scratch, "data"), os.path.join(scratch, "run")
    pg_ctl = pgbackrest.as_user([os.path.join(directory, "pg_ctl"), "-D", data], user)
    started = False
    try:
        for path in (scratch, data, os.path.join(scratch, "tablespaces"), run_dir):
            if not os.path.isdir(path):
                os.mkdir(path, 0o700)
            _own(path, user)
        repo.run("restore", pgbackrest.restore_args(plan["set"], plan["target"], data,
                                                    os.path.join(scratch, "tablespaces")))
        port = pitr["scratch_port"] or _free_port()
        _scratch_files(data, scratch, user)
        settings = _control_settings(directory, data, user)
        options = " ".join("-c %s=%s" % (key, shlex.quote(str(value))) for key, value in sorted(dict(
            settings, port=port, listen_addresses="", unix_socket_directories=run_dir, archive_mode="off",
            hba_file=os.path.join(scratch, "hba.conf"), ident_file=os.path.join(scratch, "ident.conf"),
            hot_standby="off", max_wal_senders=0).items()))
        started = True
        what = "the scratch cluster's recovery to %s" % plan["report"]["target"]
        _run(pg_ctl + ["-l", os.path.join(scratch, "server.log"), "-o", options, "-w", "-t",
                       str(pitr["recovery_timeout"]), "start"], what, tools.executed, scratch)
        wait_until(lambda: _recovered(data, scratch, what), what, pitr["recovery_timeout"], 1)
        scratch_tools = Tools(directory, dict(host=run_dir, port=port, user=module.params["login_user"],
                                              password=None), tools.executed)
        state = scratch_tools.run("psql", ["--no-psqlrc", "-qtA", "--host", run_dir, "--port", str(port), "--username",
                                           module.params["login_user"], "--dbname", "postgres", "--command",
                                           "SELECT pg_is_in_recovery(), (SELECT count(*) FROM pg_database WHERE "
                                           "datname = '%s')" % db.replace("'", "''")],
                                  "reading the scratch cluster").strip()
        if state.split("|")[0] != "f":
            raise RollbackError("the scratch cluster did not finish its recovery to %s" % plan["report"]["target"])
        if state.split("|")[1] != "1":
            raise RollbackError("database %s did not exist at %s (not in the cluster restored to that time)" % (
                db, plan["report"]["target"]))
        dump = os.path.join(scratch, "%s.dump" % db)
        scratch_tools.dump(db, dump, "custom")
        tools.restore(dump, "custom", side, jobs, module.params["no_owner"])
    finally:
        plan["report"]["scratch_removed"] = _remove(pg_ctl, scratch, started, tools.executed)


def _scratch_files(data, scratch, user):
    """Settings for the scratch server: its own trust-only HBA, empty config files where the cluster keeps them
    elsewhere (Debian's /etc/postgresql), and the live cluster's limits that recovery needs (pg_control)."""
    files = {os.path.join(scratch, "hba.conf"): "local all all trust\n", os.path.join(scratch, "ident.conf"): ""}
    if not os.path.exists(os.path.join(data, "postgresql.conf")):
        files[os.path.join(data, "postgresql.conf")] = ""
    for path, text in files.items():
        with open(path, "w") as handle:
            handle.write(text)
        os.chmod(path, 0o600)
        _own(path, user)


# pg_controldata lines -> the settings replaying the WAL needs at least as high as the backed-up server had them
# (xlog.c CheckRequiredParameterValues; a prepared transaction in the WAL needs max_prepared_transactions).
CONTROL_SETTINGS = {"max_connections setting": "max_connections", "max_worker_processes setting":
                    "max_worker_processes", "max_prepared_xacts setting": "max_prepared_transactions",
                    "max_locks_per_xact setting": "max_locks_per_transaction"}


def _control_settings(directory, data, user):
    returncode, stdout, stderr = run_command(pgbackrest.as_user([os.path.join(directory, "pg_controldata"), data],
                                                                user), "pg_controldata")
    if returncode != 0:
        raise RollbackError("pg_controldata of the restored cluster failed: %s" % stderr.strip())
    settings = {}
    for line in stdout.splitlines():
        key, _sep, value = line.partition(":")
        if key.strip() in CONTROL_SETTINGS and value.strip().isdigit():
            settings[CONTROL_SETTINGS[key.strip()]] = int(value.strip())
    return settings


def _recovered(data, scratch, what):
    """postmaster.pid's status line says ``ready`` once recovery promoted; no file means the server stopped."""
    try:
        with open(os.path.join(data, "postmaster.pid")) as handle:
            lines = handle.read().splitlines()
    except OSError:
        raise RollbackError("%s failed: the scratch server stopped%s" % (what, _log_tail(scratch)))
    status = lines[7].strip() if len(lines) > 7 else "starting"
    return status == "ready", "recovering (%s)" % status


def _log_tail(scratch):
    log = os.path.join(scratch, "server.log")
    if not os.path.exists(log):
        return ""
    with open(log) as handle:
        lines = [line.strip() for line in handle.read().splitlines() if line.strip()]
    # The reason is the FATAL (or PANIC) line with its HINT and CONTEXT; the lines after it are the shutdown's.
    reasons = [line for line in lines if re.search(r"\b(FATAL|PANIC|HINT|CONTEXT):", line)]
    return "; server log: %s" % " | ".join((reasons or lines)[-3:])


def _run(argv, what, executed, scratch):
    executed.append(" ".join(argv))
    returncode, stdout, stderr = run_command(argv, what)
    if returncode != 0:
        lines = (stderr or stdout).strip().splitlines()
        raise RollbackError("%s failed: %s%s" % (what, lines[-1] if lines else "exit %d" % returncode,
                                                 _log_tail(scratch)))


def _remove(pg_ctl, scratch, started, executed):
    """Stop the scratch server (immediate: nothing in it is kept) and remove its directory; True when gone."""
    if started and os.path.exists(os.path.join(scratch, "data", "postmaster.pid")):
        executed.append(" ".join(pg_ctl + ["-m", "immediate", "-w", "stop"]))
        run_command(pg_ctl + ["-m", "immediate", "-w", "stop"], "stopping the scratch cluster")
    shutil.rmtree(scratch, ignore_errors=True)
    return not os.path.exists(scratch)
