"""pgBackRest (Debian ``pgbackrest``) for the lab's PostgreSQL: WAL archived to a repository under .lab/, a full backup.

The config file, repository, log, lock and spool directories live under ``.lab/pgbackrest`` (never /tmp or
/var/lib/pgbackrest, so labs in other network namespaces do not share them). ``postgres.start`` passes
``archive_options()`` to the server and calls ``ensure_backup()`` once it is up: ``stanza-create`` (idempotent) and a
full backup when the repository holds none. Everything runs as the postgres user, which owns what is created here.
"""

import json
import os
import shutil

from labkit.common import run

STANZA = "lab"
USER = "postgres"


def _dir(lab, *parts):
    return lab.path("pgbackrest", *parts)


def config_path(lab):
    return _dir(lab, "pgbackrest.conf")


def facts(lab):
    return {
        "LAB_PGBACKREST_CONFIG": config_path(lab),
        "LAB_PGBACKREST_STANZA": STANZA,
        "LAB_PGBACKREST_REPO": _dir(lab, "repo"),
    }


def configure(lab, data_dir, port, socket_dir):
    """The config file and the directories, created (and chowned) only when missing; never walks the repository."""
    for parts in ((), ("repo",), ("log",), ("lock",), ("spool",)):
        path = _dir(lab, *parts)
        if not os.path.isdir(path):
            os.makedirs(path, 0o750)
            shutil.chown(path, USER, USER)
    text = "\n".join([
        "[global]",
        "repo1-path=%s" % _dir(lab, "repo"),
        "repo1-retention-full=2",
        "log-path=%s" % _dir(lab, "log"),
        "lock-path=%s" % _dir(lab, "lock"),
        "spool-path=%s" % _dir(lab, "spool"),
        "log-level-console=warn",
        "log-level-file=info",
        "start-fast=y",
        "compress-type=gz",
        "",
        "[%s]" % STANZA,
        "pg1-path=%s" % data_dir,
        "pg1-port=%d" % port,
        "pg1-socket-path=%s" % socket_dir,
        "pg1-user=%s" % USER,
        "",
    ])
    path = config_path(lab)
    current = open(path).read() if os.path.exists(path) else None
    if current != text:
        with open(path, "w") as handle:
            handle.write(text)
        os.chmod(path, 0o640)
        shutil.chown(path, USER, USER)


def archive_options(lab):
    """pg_ctl -o settings: continuous archiving into the repository (archive_mode needs a server restart)."""
    return " -c archive_mode=on -c \"archive_command=%s\"" % archive_command(lab)


def archive_command(lab):
    return "pgbackrest --config=%s --stanza=%s archive-push %%p" % (config_path(lab), STANZA)


def _pgbackrest(lab, *args):
    return run(["pgbackrest", "--config=%s" % config_path(lab), "--stanza=%s" % STANZA] + list(args),
               "pgbackrest %s (see %s)" % (args[0], _dir(lab, "log")), user=USER)


def info(lab):
    return json.loads(_pgbackrest(lab, "info", "--output=json"))


def ensure_backup(lab, fresh=False):
    """stanza-create, then a full backup when the repository holds none, or always when ``fresh`` (the server has
    just started): a point-in-time restore then replays only this lab run's WAL. A tablespace an earlier run created
    and removed with its directory would stop the redo of every later restore (PostgreSQL: "directory ... does not
    exist"). What was done, for the start line."""
    _pgbackrest(lab, "stanza-create")
    stanzas = info(lab)
    if stanzas and stanzas[0].get("backup") and not fresh:
        return None
    _pgbackrest(lab, "backup", "--type=full")
    return "full backup"
