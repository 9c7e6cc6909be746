# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The env file Compose reads for interpolation and ``COMPOSE_*`` settings, and the variables of image names.

Compose v2 (docker/compose cmd/compose/compose.go, ``toProjectOptions``) takes the process environment first
("always win"), then the ``--env-file`` files or else ``<project dir>/.env``, later files overriding earlier
ones, then reads ``COMPOSE_FILE`` from that environment. A line is edited in place, the rest of the file is
kept byte for byte.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re

from ansible_collections.rollback.core.plugins.module_utils.config_backup import read_text
from ansible_collections.rollback.core.plugins.module_utils.env_file import LINE

# ``$$`` (a literal dollar), ``${NAME...}`` or ``$NAME``, as compose-go's template package reads them.
REFERENCE = re.compile(r"\$(?:(\$)|\{([A-Za-z_][A-Za-z0-9_]*)([^}]*)\}|([A-Za-z_][A-Za-z0-9_]*))")
# A value written unquoted must not need quoting in a dotenv file.
PLAIN_VALUE = re.compile(r"^[A-Za-z0-9_.:/@+-]+$")


def references(text):
    """Names of the variables ``text`` interpolates."""
    return set(match.group(2) or match.group(4) for match in REFERENCE.finditer(text) if not match.group(1))


def single_variable(raw):
    """``(prefix, name, suffix)`` when ``raw`` interpolates exactly one variable between literal text, else None.

    ``${NAME}``, ``$NAME``, ``${NAME:-default}``, ``${NAME-default}``, ``${NAME:?error}`` and ``${NAME?error}``
    all give the value of NAME once NAME is set and not empty; ``${NAME:+alt}`` and nested references do not.
    """
    matches = list(REFERENCE.finditer(raw))
    if len(matches) != 1 or matches[0].group(1):
        return None
    match = matches[0]
    modifier = match.group(3) or ""
    if "$" in modifier or modifier.startswith((":+", "+")):
        return None
    return raw[:match.start()], match.group(2) or match.group(4), raw[match.end():]


def value_for(raw, wanted):
    """``(name, value)`` so that setting NAME=value makes ``raw`` interpolate to ``wanted``; else None."""
    parts = single_variable(raw)
    if not parts:
        return None
    prefix, name, suffix = parts
    if not (wanted.startswith(prefix) and wanted.endswith(suffix)) or len(wanted) <= len(prefix) + len(suffix):
        return None
    value = wanted[len(prefix):len(wanted) - len(suffix)]
    return (name, value) if PLAIN_VALUE.match(value) else None


def _unquote(value):
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    # Unquoted: a " #" starts a comment (compose-go dotenv).
    return re.split(r"\s+#", value, maxsplit=1)[0].strip()


def assignments(text):
    """``{NAME: value}`` of the ``NAME=value`` lines (the last one wins, as in compose-go's dotenv)."""
    values = {}
    for line in text.splitlines():
        match = LINE.match(line.strip())
        if match:
            values[match.group(1)] = _unquote(match.group(2))
    return values


def assign(text, name, value):
    """``text`` with NAME set to ``value``: its last assignment rewritten in place, or a line appended."""
    lines = text.splitlines(True)
    pattern = re.compile(r"^(\s*(?:export\s+)?%s\s*=)" % re.escape(name))
    indexes = [index for index, line in enumerate(lines) if pattern.match(line)]
    if indexes:
        index = indexes[-1]
        ending = lines[index][len(lines[index].rstrip("\r\n")):]
        lines[index] = pattern.match(lines[index]).group(1) + value + ending
    else:
        if lines and not lines[-1].endswith("\n"):
            lines[-1] += "\n"
        lines.append("%s=%s\n" % (name, value))
    return "".join(lines)


def changed_lines(before, after):
    """The lines that differ, for a diff that shows no other (possibly secret) value of an env file."""
    old, new = before.splitlines(), after.splitlines()
    return ("\n".join(line for line in old if line not in new) + "\n",
            "\n".join(line for line in new if line not in old) + "\n")


class EnvFiles:
    """The env files compose reads for a project, with their current text."""

    def __init__(self, project):
        if project.env_files:
            self.paths = list(project.env_files)
            self.read = True
        else:
            self.paths = [project.path(".env")]
            disabled = os.environ.get("COMPOSE_DISABLE_ENV_FILE", "").lower() in ("1", "true", "yes", "on")
            self.read = not disabled
        self.texts = dict((path, read_text(path, "env file")[1] if os.path.exists(path) else "")
                          for path in self.paths)

    def value(self, name):
        """The value compose interpolates for NAME: the process environment first, then the files."""
        if name in os.environ:
            return os.environ[name]
        found = None
        for path in self.paths if self.read else ():
            found = assignments(self.texts[path]).get(name, found)
        return found

    def holder(self, name):
        """The file to write NAME into: the last one assigning it, else the last file."""
        holders = [path for path in self.paths if name in assignments(self.texts[path])]
        return (holders or self.paths)[-1]
