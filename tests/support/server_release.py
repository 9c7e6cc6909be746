"""The lab's server target (releases/<version> and the ``current`` symlink, its unit under the lab's systemctl)."""

import os
import subprocess


def systemctl(lab, *args):
    return subprocess.run([lab["LAB_SYSTEMCTL"]] + list(args), check=False, capture_output=True, text=True)


def point_current(lab, version):
    """A deploy of ``version``: ``current`` pointed at its release, the unit restarted."""
    current = os.path.join(lab["LAB_SERVER_RELEASES_DIR"], "current")
    os.remove(current)
    os.symlink(os.path.join(lab["LAB_SERVER_RELEASES_DIR"], "releases", version), current)
    assert systemctl(lab, "restart", lab["LAB_SERVER_UNIT"]).returncode == 0


def current_release(lab):
    return os.path.basename(os.path.realpath(os.path.join(lab["LAB_SERVER_RELEASES_DIR"], "current")))
