# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""PostgreSQL dumps: detect the format from content, run the client tools, read a table of contents.

Passwords reach pg_dump, pg_restore and psql through PGPASSWORD in their
environment, never on the command line, so ``executed_commands`` and error
messages never hold them.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import codecs
import glob
import os
import re
import shlex

from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError
from ansible_collections.rollback.core.plugins.module_utils.progress import run_command

FORMATS = ("custom", "directory", "tar", "plain")
# What the start of a plain dump holds: pg_dump's header comment, or (hand-written) SQL statements.
PLAIN_SQL = re.compile(r"^--\s*PostgreSQL database dump|^\s*(SET|SELECT|CREATE|INSERT|COPY|BEGIN|ALTER|DROP|"
                       r"COMMENT|GRANT|REVOKE|UPDATE|DELETE|\\connect)\b", re.IGNORECASE | re.MULTILINE)


def detect_format(path):
    """custom (PGDMP magic), directory (toc.dat), tar (ustar header) or plain SQL."""
    if os.path.isdir(path):
        if os.path.exists(os.path.join(path, "toc.dat")):
            return "directory"
        raise RollbackError("dump %s is a directory without toc.dat: not a pg_dump -Fd dump" % path)
    try:
        with open(path, "rb") as handle:
            head = handle.read(512)
    except OSError as error:
        raise RollbackError("cannot read dump %s: %s" % (path, error.strerror or error))
    if not head:
        raise RollbackError("dump %s is empty" % path)
    if head.startswith(b"PGDMP"):
        return "custom"
    if len(head) >= 262 and head[257:262] == b"ustar":
        return "tar"
    try:
        # Not final: a multi-byte character cut at the 512th byte is left out, any invalid byte is an error.
        text = codecs.getincrementaldecoder("utf-8")().decode(head)
    except UnicodeDecodeError:
        raise RollbackError("dump %s is neither a pg_dump archive nor SQL text" % path)
    # psql stops at a NUL byte and would run an empty script: text with control bytes is not SQL.
    if any(ord(c) < 32 and c not in "\t\n\r\f" for c in text):
        raise RollbackError("dump %s is neither a pg_dump archive nor SQL text" % path)
    if not PLAIN_SQL.search(text):
        raise RollbackError("dump %s is text but no SQL dump: no pg_dump header and no SQL statement in its "
                            "first 512 bytes" % path)
    return "plain"


def find_bin_dir(requested=None):
    """The directory of pg_dump/pg_restore/psql: the option, else PATH, else the newest Debian/RHEL install."""
    if requested:
        if not os.path.exists(os.path.join(requested, "pg_restore")):
            raise RollbackError("pg_bin_dir %s has no pg_restore" % requested)
        return requested
    for directory in os.environ.get("PATH", "").split(os.pathsep):
        if directory and os.path.exists(os.path.join(directory, "pg_restore")):
            return directory
    # By version, as numbers: /usr/lib/postgresql/16/bin (Debian), /usr/pgsql-16/bin and /usr/pgsql-9.6/bin (RHEL).
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin") + glob.glob("/usr/pgsql-*/bin"),
                        key=lambda path: [int(number) for number in re.findall(r"\d+", path)])
    for directory in reversed(candidates):
        if os.path.exists(os.path.join(directory, "pg_restore")):
            return directory
    raise RollbackError("pg_restore not found: install the PostgreSQL client (postgresql-client) or set pg_bin_dir")


class Tools:
    """Runs the PostgreSQL client tools against one server and records each command."""

    def __init__(self, bin_dir, login, executed):
        self.bin_dir = bin_dir
        self.login = login
        self.executed = executed

    def _connection_args(self, database):
        return ["--host", self.login["host"], "--port", str(self.login["port"]), "--username", self.login["user"],
                "--no-password", "--dbname", database]

    def _env(self):
        env = dict(os.environ)
        if self.login.get("password"):
            env["PGPASSWORD"] = self.login["password"]
        return env

    def run(self, tool, args, what):
        argv = [os.path.join(self.bin_dir, tool)] + args
        self.executed.append(" ".join(shlex.quote(part) for part in [tool] + args))
        returncode, stdout, stderr = run_command(argv, what, env=self._env())
        if returncode != 0:
            reason = _last_error(stderr) or "exit %d" % returncode
            raise RollbackError("%s failed: %s" % (what, reason))
        return stdout

    def table_of_contents(self, dump):
        """The entries of an archive's TOC; fails clearly on a corrupt or too-new archive."""
        listing = self.run("pg_restore", ["--list", dump], "reading the dump's table of contents (%s)" % dump)
        return [line for line in listing.splitlines() if line and not line.startswith(";")]

    def dump_custom(self, database, path, compression):
        self.run("pg_dump", self._connection_args(database) + ["--format=custom", "--compress=%d" % compression,
                                                               "--file", path],
                 "emergency pg_dump of %s" % database)

    def dump(self, database, path, fmt, jobs=1):
        """``pg_dump --format=<fmt>`` (custom or directory, ``--jobs`` with directory) of ``database`` to ``path``."""
        args = self._connection_args(database) + ["--format=%s" % fmt, "--file", path]
        if fmt == "directory" and jobs > 1:
            args += ["--jobs", str(jobs)]
        self.run("pg_dump", args, "pg_dump of %s" % database)

    def dump_command(self, database):
        """``(argv, env, what)`` of ``pg_dump --format=custom`` of ``database`` to its stdout (recorded as run)."""
        args = self._connection_args(database) + ["--format=custom"]
        self.executed.append(" ".join(shlex.quote(part) for part in ["pg_dump"] + args))
        return [os.path.join(self.bin_dir, "pg_dump")] + args, self._env(), "pg_dump of %s" % database

    def restore(self, dump, fmt, database, jobs, no_owner):
        if fmt == "plain":
            self.run("psql", self._connection_args(database) + ["--no-psqlrc", "--quiet", "--set", "ON_ERROR_STOP=1",
                                                                "--single-transaction", "--file", dump],
                     "restoring %s into %s" % (dump, database))
            return
        args = self._connection_args(database) + ["--exit-on-error"]
        if jobs > 1:
            args += ["--jobs", str(jobs)]
        if no_owner:
            args += ["--no-owner", "--no-privileges"]
        self.run("pg_restore", args + [dump], "restoring %s into %s" % (dump, database))


def _last_error(stderr):
    lines = [line.strip() for line in stderr.strip().splitlines() if line.strip()]
    errors = [line for line in lines if "error" in line.lower() or "fatal" in line.lower()]
    return (errors or lines or [""])[-1]
