"""Run modules in-process: module args in, the exit_json/fail_json payload out."""

import pytest
from support.modules import run_main


@pytest.fixture
def run_module():
    """Return ``run(main, args, check_mode=False, diff=False) -> (failed, result)``."""
    return run_main
