# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading a plain SQL dump before psql runs it: only SQL for the side database may be in it.

psql runs backslash meta-commands wherever they appear outside quotes and comments
(src/bin/psql/psqlscan.l): ``\\connect`` (``\\c``) switches the session to another
database, so a plain dump made with ``pg_dump --create`` or ``pg_dumpall`` would run
against the live database, whatever database psql was started on. Statements on
shared objects (databases, roles, tablespaces, ``ALTER SYSTEM``, role memberships)
change the whole cluster. Both are refused before anything runs, naming the line;
nothing is stripped. ``\\restrict`` / ``\\unrestrict`` (written by pg_dump since
15.14) are allowed. COPY data (``COPY ... FROM stdin;`` up to ``\\.``) is data.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError

ALLOWED_META = ("restrict", "unrestrict")
TOKEN = re.compile(r"(?P<dollar>(?<![A-Za-z0-9_$])\$(?:[A-Za-z_\x80-\uffff][A-Za-z0-9_\x80-\uffff]*)?\$)"
                   r"|(?P<equote>(?<![A-Za-z0-9_$])[eE]')|(?P<quote>')|(?P<dquote>\")|(?P<comment>--)"
                   r"|(?P<block>/\*)|(?P<meta>\\)|(?P<end>;)")
META_NAME = re.compile(r"[A-Za-z_!?+]+|.")
E_STRING_STOP = re.compile(r"\\.|\\$|'")
BLOCK_COMMENT = re.compile(r"/\*|\*/")
COPY_FROM_STDIN = re.compile(r"^\s*COPY\b.*\bFROM\s+stdin\b.*;\s*$", re.IGNORECASE)
SHARED = re.compile(r"^\s*((CREATE|ALTER|DROP)\s+(DATABASE|ROLE|USER|GROUP|TABLESPACE)\b|ALTER\s+SYSTEM\b"
                    r"|COMMENT\s+ON\s+(DATABASE|ROLE|TABLESPACE)\b|SECURITY\s+LABEL\b.*\bON\s+(DATABASE|ROLE|TABLESPACE)\b"
                    r"|(GRANT|REVOKE)\b.*\bON\s+(DATABASE|TABLESPACE|PARAMETER)\b|(GRANT|REVOKE)\b(?!.*\bON\b))",
                    re.IGNORECASE | re.DOTALL)


def check_plain(path):
    """Refuse a plain dump that would leave the side database; return the number of lines read."""
    scanner = _Scanner(path)
    with open(path, encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, 1):
            scanner.line(number, line)
    return scanner.lines


class _Scanner:
    def __init__(self, path):
        self.path = path
        self.state = "sql"
        self.tag = None
        self.depth = 0
        self.copy_data = False
        self.statement = []
        self.statement_line = 1
        self.lines = 0

    def refuse(self, number, why):
        raise RollbackError("plain dump %s, line %d: %s; nothing was changed" % (self.path, number, why))

    def line(self, number, line):
        self.lines = number
        if self.copy_data:
            if line.rstrip("\r\n") == "\\.":
                self.copy_data = False
            return
        copy = self.state == "sql" and COPY_FROM_STDIN.match(line)
        pos = 0
        while pos < len(line):
            pos = getattr(self, "_" + self.state)(number, line, pos)
        if copy and self.state == "sql":
            self.copy_data = True

    def _sql(self, number, line, pos):
        match = TOKEN.search(line, pos)
        if not match:
            self._text(number, line[pos:])
            return len(line)
        self._text(number, line[pos:match.start()])
        kind = match.lastgroup
        if kind == "comment":
            return len(line)
        if kind == "end":
            self._statement_end(number)
        elif kind == "meta":
            self._meta(number, line, match.end())
            return len(line)
        elif kind == "block":
            self.state, self.depth = "block", 1
        elif kind == "dollar":
            self.state, self.tag = "dollar", match.group()
            self._text(number, "$$")
        else:
            self.state = kind
            self._text(number, "''")
        return match.end()

    def _text(self, number, text):
        if text.strip() and not any(part.strip() for part in self.statement):
            self.statement_line = number
        self.statement.append(text)

    def _statement_end(self, number):
        statement = "".join(self.statement)
        self.statement = []
        if SHARED.match(statement):
            self.refuse(self.statement_line, "%s... changes the whole cluster (databases, roles, tablespaces), not "
                                             "the side database: restore a dump of one database's contents"
                        % " ".join(statement.split())[:60])

    def _meta(self, number, line, pos):
        name = META_NAME.match(line, pos)
        name = name.group() if name else ""
        if name in ALLOWED_META or name == "\\":
            return
        argument = line[pos + len(name):].strip()
        if name in ("c", "connect"):
            self.refuse(number, "\\%s %s switches to another database: psql would run the rest against it, not "
                                "the side database (a dump made with pg_dump --create or pg_dumpall); restore a "
                                "dump of one database made without --create" % (name, argument))
        self.refuse(number, "psql meta-command \\%s is not SQL for the side database (it can run shell commands, "
                            "read or write files, or change how psql stops on errors)" % name)

    def _quote(self, number, line, pos):
        return self._closing("'", line, pos)

    def _equote(self, number, line, pos):
        while True:
            match = E_STRING_STOP.search(line, pos)
            if not match:
                return len(line)
            if match.group() != "'":
                pos = match.end()
                continue
            if line.startswith("'", match.end()):
                pos = match.end() + 1
                continue
            self.state = "sql"
            return match.end()

    def _dquote(self, number, line, pos):
        return self._closing('"', line, pos)

    def _closing(self, quote, line, pos):
        """Past the closing ``quote`` (a doubled one is part of the text), or the end of the line."""
        end = line.find(quote, pos)
        if end < 0:
            return len(line)
        if line.startswith(quote, end + 1):
            return end + 2
        self.state = "sql"
        return end + 1

    def _dollar(self, number, line, pos):
        end = line.find(self.tag, pos)
        if end < 0:
            return len(line)
        self.state = "sql"
        return end + len(self.tag)

    def _block(self, number, line, pos):
        match = BLOCK_COMMENT.search(line, pos)
        if not match:
            return len(line)
        self.depth += 1 if match.group() == "/*" else -1
        if self.depth == 0:
            self.state = "sql"
        return match.end()
