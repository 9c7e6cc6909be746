# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Whether a host's rollback.core modules run in the controller's own Python: connection ``local``, the
controller's interpreter, no become. in_worker.py then runs them inside Ansible's worker, and preflight checks
their libraries once, on localhost, instead of on each such host (issue 22)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import sys

from ansible.module_utils.parsing.convert_bool import boolean

LOCAL = ("local", "ansible.builtin.local")


def same_python(interpreter, executable):
    """The same binary from the same directory: a venv's python links to the system's binary but has other
    libraries, so the resolved path alone would take the system Python for the controller's venv."""
    if not isinstance(interpreter, str):
        return False
    return (os.path.dirname(os.path.abspath(interpreter)) == os.path.dirname(os.path.abspath(executable))
            and os.path.realpath(interpreter) == os.path.realpath(executable))


def in_controller(connection, interpreter, become=False, executable=None):
    """Modules of a host with this connection, interpreter (templated; None: discovered, never assumed the
    controller's) and become run in the controller's Python."""
    if connection not in LOCAL or boolean(become or False, strict=False):
        return False
    return same_python(interpreter, executable or sys.executable)
