# Copyright: rollback.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The git layout of a Compose rollback: the project's compose files as a tag or commit holds them (runbook 004:
``git checkout $PREVIOUS_VERSION -- docker-compose.app.yml``).

The target images are what compose itself loads from the files at that commit, read from copies written beside
the originals (so relative paths, ``include:`` and env files resolve as they will after the checkout); services
that are not rolled back must come out identical, or nothing is changed.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import tempfile

from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError, one_line


class GitCommit:
    """``to_version`` as a commit of the work tree holding the project; false when it is not one."""

    def __init__(self, project, version):
        self.module = project.module
        self.git = self.module.get_bin_path("git")
        self.top = self.commit = None
        self.version = version
        if not self.git:
            return
        rc, top, _err = self.module.run_command([self.git, "-C", project.src, "rev-parse", "--show-toplevel"])
        if rc != 0:
            return
        rc, commit, _err = self.module.run_command([self.git, "-C", project.src, "rev-parse", "--verify", "--quiet",
                                                    "--end-of-options", version + "^{commit}"])
        if rc == 0:
            self.top, self.commit = top.strip(), commit.strip()

    def __bool__(self):
        return bool(self.commit)

    def _relative(self, path):
        return os.path.relpath(os.path.realpath(path), os.path.realpath(self.top))

    def show(self, path):
        """The file at the commit, or None when the commit has no such file."""
        relative = self._relative(path)
        if relative.startswith(".."):
            return None
        rc, out, _err = self.module.run_command([self.git, "-C", self.top, "show", "%s:%s" % (self.commit, relative)])
        return out if rc == 0 else None

    def checkout(self, paths, saved):
        rc, _out, err = self.module.run_command([self.git, "-C", self.top, "checkout", self.commit, "--"]
                                                + [self._relative(path) for path in paths])
        if rc != 0:
            raise RollbackError("git checkout %s of the compose files failed (previous files saved as %s): %s"
                                % (self.version, ", ".join(saved) or "none", one_line(err)), saved_to=saved)


def targets_at(project, services, commit, files, contents, checkout):
    """The images of ``services`` once ``files`` hold ``contents``; refused when other services would change."""
    model = model_with(project, files, contents) if contents else project.config
    old_services, now_services = model.get("services") or {}, project.config.get("services") or {}
    missing = [service for service in services if service not in old_services]
    if missing:
        raise RollbackError("service(s) %s not in the compose files at %s: nothing was changed"
                            % (", ".join(missing), commit.version))
    touched = sorted(other for other in set(now_services) | set(old_services)
                     if other not in services and now_services.get(other) != old_services.get(other))
    if touched:
        raise RollbackError("checking out %s at %s would also change service(s) %s, which are not rolled back: "
                            "add them to services (nothing was changed)"
                            % (", ".join(os.path.relpath(p, project.src) for p in checkout), commit.version,
                               ", ".join(touched)))
    return dict((service, old_services[service].get("image")) for service in services)


def model_with(project, files, contents):
    """``docker compose config`` of the project with some files replaced, from copies beside the originals."""
    copies, replaced = [], []
    try:
        for path in files:
            if path in contents:
                handle, copy = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".rollback-plan-",
                                                suffix=os.path.splitext(path)[1])
                with os.fdopen(handle, "w") as stream:
                    stream.write(contents[path])
                copies.append(copy)
                replaced.append(copy)
            else:
                replaced.append(path)
        return project.config_of(replaced)
    finally:
        for copy in copies:
            os.remove(copy)
