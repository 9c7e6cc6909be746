"""Offline stand-in for ansible-test's get-pip download.

ansible-test runs get-pip in each new sanity venv. This bootstraps pip from the
interpreter's own ensurepip instead, then installs the pinned pip it asked for
from the configured package index.
"""

import ensurepip
import os
import subprocess
import sys

GET_PIP_ONLY_OPTIONS = {"--no-setuptools", "--no-wheel"}

ensurepip.bootstrap(upgrade=True)
# ensurepip points pip at /dev/null for its own run; the real install must see
# the machine's pip configuration (index, certificates).
os.environ.pop("PIP_CONFIG_FILE", None)
options = [arg for arg in sys.argv[1:] if arg not in GET_PIP_ONLY_OPTIONS]
sys.exit(subprocess.call([sys.executable, "-m", "pip", "install", "--quiet"] + options))
