# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""pgBackRest: the command line, what ``info --output=json`` says about a stanza, the backup set for a target time.

The JSON is pgBackRest's documented ``info`` output (https://pgbackrest.org/command.html#command-info, "Info JSON
output"): a list of stanzas, each with ``status`` (``code`` 0 = ok; 1 = missing stanza path, 2 = no valid
backups, ...), ``backup`` (oldest first; ``label``, ``type``, ``timestamp.start``/``stop`` in epoch seconds,
``archive.start``/``stop`` WAL segments, ``database.id``) and ``archive`` (per database id: ``min`` and ``max``, the
oldest and newest WAL segment in the repository). The newest segment's time comes from ``repo-ls --output=json``
(``{name: {type, size, time}}``, https://pgbackrest.org/command.html#command-repo-ls): the time it was pushed,
which is the latest moment a point-in-time restore can reach.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import shlex

from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError
from ansible_collections.rollback.core.plugins.module_utils.progress import run_command
from ansible_collections.rollback.core.plugins.module_utils.toolkit import utc_iso

# pgBackRest's info status codes (src/command/info/info.c INFO_STANZA_STATUS_CODE_*).
MISSING_STANZA_PATH = 1


class PgBackRest:
    """Runs ``pgbackrest --config=<config> --stanza=<stanza> <command>``, as ``user`` when running as root."""

    def __init__(self, config, stanza, executed, user=None, binary="pgbackrest"):
        self.config = config
        self.stanza = stanza
        self.executed = executed
        self.user = user
        self.binary = binary

    def argv(self, command, *args):
        argv = [self.binary]
        if self.config:
            argv.append("--config=%s" % self.config)
        return argv + ["--stanza=%s" % self.stanza, command] + list(args)

    def run(self, command, args=(), record=True):
        argv = self.argv(command, *args)
        if record:
            self.executed.append(" ".join(shlex.quote(part) for part in argv))
        returncode, stdout, stderr = run_command(as_user(argv, self.user), "pgbackrest %s" % command)
        if returncode != 0:
            lines = [line.strip() for line in (stderr or stdout).splitlines() if line.strip()]
            raise RollbackError("pgbackrest %s (stanza %s) failed: %s" % (
                command, self.stanza, lines[-1] if lines else "exit %d" % returncode))
        return stdout

    def info(self):
        """The stanza's entry of ``info --output=json``; an unknown stanza or one with no backup is refused."""
        return stanza_info(_json(self.run("info", ["--output=json"], record=False), "info"), self.stanza)

    def set_tablespaces(self, label):
        """The tablespaces backup set ``label`` holds (``info --set``)."""
        return set_tablespaces(_json(self.run("info", ["--set=%s" % label, "--output=json"], record=False), "info"),
                               self.stanza, label)

    def newest_wal_time(self, info):
        """Epoch seconds the newest archived WAL segment was pushed (``repo-ls`` of its directory), or None."""
        archive = newest_archive(info)
        if archive is None:
            return None
        segment = archive["max"]
        listing = _json(self.run("repo-ls", ["--output=json", "--filter=^%s" % segment, "archive/%s/%s/%s" % (
                                 self.stanza, archive["id"], segment[:16])], record=False),
                        "repo-ls")
        return wal_time(listing, segment)


def as_user(argv, user):
    """``argv`` run as ``user`` (runuser) when this process is root and ``user`` is another one."""
    if user and os.geteuid() == 0 and user != "root":
        return ["runuser", "-u", user, "--"] + argv
    return argv


def _json(text, command):
    try:
        return json.loads(text)
    except ValueError:
        raise RollbackError("pgbackrest %s --output=json printed no JSON: %s" % (command, text.strip()[:200]))


def stanza_info(document, stanza):
    """The stanza's entry in the info list; one clear error when it does not exist or holds no backup."""
    entry = next((item for item in document or [] if isinstance(item, dict) and item.get("name") == stanza), None)
    status = (entry or {}).get("status") or {}
    if entry is None or status.get("code") == MISSING_STANZA_PATH:
        raise RollbackError("pgBackRest stanza %s does not exist in the repository (%s); nothing was changed" % (
            stanza, status.get("message") or "not in pgbackrest info"))
    if not entry.get("backup"):
        raise RollbackError("pgBackRest stanza %s has no backup (%s); nothing was changed" % (
            stanza, status.get("message") or "no backup"))
    return entry


def backups(info):
    """``[{label, type, start, stop, archive_start, archive_stop}]`` oldest first (times in epoch seconds)."""
    return [dict(label=item["label"], type=item["type"], start=item["timestamp"]["start"],
                 stop=item["timestamp"]["stop"], archive_start=(item.get("archive") or {}).get("start"),
                 archive_stop=(item.get("archive") or {}).get("stop"), database_id=item["database"]["id"])
            for item in sorted(info.get("backup") or [], key=lambda item: item["timestamp"]["stop"])
            if not item.get("error")]


def set_tablespaces(document, stanza, label):
    """``[{name, oid, destination}]``: the tablespaces of backup set ``label`` (``info --set=<label>`` lists them in
    ``tablespace``, null when the set has none; https://pgbackrest.org/command.html#command-info)."""
    for item in stanza_info(document, stanza).get("backup") or []:
        if item["label"] == label:
            return item.get("tablespace") or []
    raise RollbackError("pgBackRest stanza %s has no backup set %s; nothing was changed" % (stanza, label))


def newest_archive(info):
    """The archive entry (``id``, ``min``, ``max``) of the current database, or None."""
    current = max([db["id"] for db in info.get("db") or []] or [None])
    for archive in info.get("archive") or []:
        if archive["database"]["id"] == current and archive.get("max"):
            return archive
    return None


def wal_time(listing, segment):
    """The push time of ``segment`` in a ``repo-ls --output=json`` listing (``<segment>-<sha1>[.gz]``)."""
    times = [item["time"] for name, item in listing.items()
             if item.get("type") == "file" and os.path.basename(name).startswith(segment + "-")]
    return max(times) if times else None


def choose(info, target, newest_wal=None):
    """The backup set a restore to ``target`` (epoch seconds) starts from: the newest whose copy ended at or before
    it (a restore can only reach times after the backup is consistent). Refuses a target before the oldest backup's
    end or after the newest archived WAL."""
    sets = backups(info)
    if not sets:
        raise RollbackError("pgBackRest stanza %s has no usable backup; nothing was changed" % info.get("name"))
    usable = [item for item in sets if item["stop"] <= target]
    if not usable:
        raise RollbackError("target time %s is before the end of the oldest backup of stanza %s (%s, %s): no "
                            "point in time restore can reach it; nothing was changed" % (
                                utc_iso(target), info.get("name"), sets[0]["label"], utc_iso(sets[0]["stop"])))
    if newest_wal is not None and target > newest_wal:
        raise RollbackError("target time %s is after the newest WAL archived for stanza %s (%s): the repository "
                            "cannot replay up to it; nothing was changed" % (
                                utc_iso(target), info.get("name"), utc_iso(newest_wal)))
    return usable[-1]


def target_text(epoch):
    """The target as PostgreSQL's recovery_target_time reads it (microseconds, explicit UTC)."""
    return utc_iso(int(epoch)).replace("T", " ").replace("Z", "") + ".%06d+00" % int((epoch % 1) * 1e6)


def restore_args(backup_set, target, data_dir, tablespace_dir):
    """``pgbackrest restore`` of ``backup_set`` into ``data_dir`` (tablespaces under ``tablespace_dir``, never over
    the live ones), replaying to ``target`` then promoting, with archiving off so the copy never pushes WAL into the
    repository (https://pgbackrest.org/command.html#command-restore)."""
    return ["--set=%s" % backup_set["label"], "--type=time", "--target=%s" % target_text(target),
            "--target-action=promote", "--pg1-path=%s" % data_dir, "--tablespace-map-all=%s" % tablespace_dir,
            "--archive-mode=off"]
