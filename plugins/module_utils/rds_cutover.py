# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The swap of names that puts a restored instance or cluster behind the application's endpoint, to the end.

What AWS does on a rename (RDS User Guide, "Renaming a DB instance"): the instance reboots; the old DNS name
is deleted at once but can stay cached for minutes; the new name becomes effective in about 10 minutes and
the instance is not available until then; read replicas stay attached to the renamed (old) instance. So a
rename is waited through DBInstanceNotFound, ``renaming`` and ``rebooting`` until the new name is
``available``; the endpoint is then resolved until it names the restored instance (``verify_dns``); the old
instance can be fenced; and a source with read replicas is refused unless the caller leaves them behind.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import socket
import time

from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError
from ansible_collections.rollback.core.plugins.module_utils.wait import Waiter

OLD_ACTIONS = ("keep", "stop", "isolate")
STOPPED = ("stopped", "stopping")


def resolve(host):
    """The addresses ``host`` resolves to through the system resolver (what the application sees)."""
    try:
        return sorted(set(info[4][0] for info in socket.getaddrinfo(host, None)))
    except (socket.gaierror, UnicodeError):
        return []


def refuse_replicas(kind, source, policy):
    """With ``read_replicas: refuse``, no swap of a source that has read replicas."""
    replicas = kind.replicas(source)
    if replicas and policy == "refuse":
        raise RollbackError("%s has read replicas (%s): after the swap they would keep replicating the old %s. "
                            "AWS cannot re-point a replica; re-run with read_replicas: leave to swap anyway and "
                            "re-create them from the restored %s" % (
                                source[kind.id_key], ", ".join(replicas), kind.noun, kind.noun))
    return replicas


def check_isolation_groups(ec2, groups):
    """The security groups ``old_instance: isolate`` moves the old one to exist and allow no ingress."""
    found = ec2.call("describe_security_groups", GroupIds=list(groups)).get("SecurityGroups", [])
    open_groups = ["%s (%d ingress rules)" % (g["GroupId"], len(g["IpPermissions"])) for g in found
                   if g.get("IpPermissions")]
    if open_groups:
        raise RollbackError("isolation_security_group_ids must allow no ingress: %s" % ", ".join(open_groups))


class Cutover:
    def __init__(self, kind, module, changes):
        self.kind = kind
        self.module = module
        self.changes = changes

    def rename(self, current, old_name, new_name):
        """Give ``current`` (the resource seen under ``old_name``, or None mid-rename) the name ``new_name``."""
        if current is not None and current[self.kind.id_key] == old_name and self.kind.status(current) != "renaming":
            if self.module.check_mode:
                self.changes.append("would rename %s %s to %s" % (self.kind.noun, old_name, new_name))
                return current
            self.kind.rename(old_name, new_name)
            self.changes.append("renamed %s %s to %s" % (self.kind.noun, old_name, new_name))
        return self.kind.wait_available(new_name, why="to be available under its new name") or current

    def fence(self, old, action, groups):
        """Apply ``old_instance`` to the old resource; return what the result and the report say of it."""
        name = old[self.kind.id_key]
        status = self.kind.status(old)
        state = dict(id=name, action=action, status=status)
        if action == "stop" and status not in STOPPED:
            self._change("stopped", name, lambda: self.kind.stop(name))
            state["status"] = "stopping"
        elif action == "isolate" and self.kind.security_groups(old) != sorted(groups):
            self._change("isolated (security groups %s)" % ", ".join(groups), name,
                         lambda: self.kind.modify(name, VpcSecurityGroupIds=list(groups)))
        state["writable"] = action == "keep"
        state["note"] = {
            "keep": "the old %s still runs and accepts writes at its own endpoint until someone stops it"
                    % self.kind.noun,
            "stop": "stopped; AWS starts a stopped instance again after 7 days",
            "isolate": "moved to security groups %s: no new connection reaches it" % ", ".join(groups or []),
        }[action]
        return state

    def _change(self, what, name, action):
        if self.module.check_mode:
            self.changes.append("would have the old %s %s %s" % (self.kind.noun, name, what))
            return
        action()
        self.changes.append("old %s %s %s" % (self.kind.noun, name, what))

    def verify_dns(self, address, restored_addresses, old_addresses):
        """Resolve ``address`` until it gives the restored resource's addresses (or, unknown, not the old's)."""
        if self.module.check_mode or not address:
            return dict(verified=None, address=address)
        waiter = Waiter(self.module)
        started = time.monotonic()
        seen = {}

        def probe():
            seen["addresses"] = found = resolve(address)
            if restored_addresses:
                done = bool(set(found) & set(restored_addresses))
            else:
                done = bool(found) and not set(found) & set(old_addresses)
            return done, "%s resolves to %s; the restored %s is at %s, the old one at %s; %ds of %ds" % (
                address, ", ".join(found) or "nothing", self.kind.noun, ", ".join(restored_addresses) or "(unknown)",
                ", ".join(old_addresses) or "(unknown)", time.monotonic() - started, waiter.timeout)

        waiter.wait(probe, "the endpoint %s to name the restored %s" % (address, self.kind.noun))
        return dict(verified=True, address=address, addresses=seen["addresses"],
                    basis="the restored %s's own addresses" % self.kind.noun if restored_addresses
                    else "not the old %s's addresses" % self.kind.noun)
