"""env_file_restore through Ansible on real files (runbook 004's .env rollback)."""

import os
import stat
import subprocess


def make_env_dir(tmp_path):
    live = tmp_path / ".env.production"
    live.write_text("APP_VERSION=1.0.1\nDB_PASSWORD=bad-secret-XYZ\nFEATURE_X=on\n")
    os.chmod(live, 0o640)
    (tmp_path / ".env.production.backup-20251110-090000").write_text("APP_VERSION=0.9.0\nDB_PASSWORD=old\n")
    good = tmp_path / ".env.production.backup-20251112-101500"
    good.write_text("# good config\nAPP_VERSION=1.0.0\nDB_PASSWORD=good-secret-ABC\nNEW_FLAG=1\n")
    return live, good


def test_restores_newest_backup_saves_current_and_keeps_mode(ansible_module, tmp_path):
    live, good = make_env_dir(tmp_path)
    old = live.read_bytes()
    run = ansible_module("env_file_restore", {"path": str(live)}, diff=True, verbosity=3)
    assert not run.failed, run.stdout
    assert run.result["backup_used"] == str(good)
    assert (run.result["added"], run.result["updated"], run.result["removed"]) == (
        ["NEW_FLAG"], ["APP_VERSION", "DB_PASSWORD"], ["FEATURE_X"])
    assert live.read_bytes() == good.read_bytes()
    assert stat.S_IMODE(os.stat(live).st_mode) == 0o640
    assert open(run.result["saved_to"], "rb").read() == old
    output = run.stdout + run.stderr
    assert "good-secret-ABC" not in output and "bad-secret-XYZ" not in output

    rerun = ansible_module("env_file_restore", {"path": str(live)})
    assert rerun.result["changed"] is False
    assert rerun.result["backup_used"] == str(good), "the pre-rollback copy must never be picked as a backup"


def test_check_mode_changes_nothing(ansible_module, tmp_path):
    live, _good = make_env_dir(tmp_path)
    before = live.read_bytes()
    names = sorted(os.listdir(tmp_path))
    run = ansible_module("env_file_restore", {"path": str(live)}, check=True)
    assert run.result["changed"] is True
    assert live.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == names


def test_bad_backups_fail_with_one_message_and_change_nothing(ansible_module, tmp_path):
    live, _good = make_env_dir(tmp_path)
    before = live.read_bytes()
    empty = tmp_path / "empty.env"
    empty.write_text("# nothing\n")
    garbage = tmp_path / "garbage.env"
    garbage.write_text("A=1\nnot an assignment\n")
    cases = [
        ({"backup": str(empty)}, "holds no KEY=VALUE lines; refusing to restore an empty file"),
        ({"backup": str(garbage)}, "line 2 is not KEY=VALUE"),
        ({"backup": str(tmp_path / "missing.env")}, "cannot read backup"),
        ({"backup_pattern": "nothing-*"}, "no env file backup matching nothing-*"),
    ]
    for extra, message in cases:
        run = ansible_module("env_file_restore", dict({"path": str(live)}, **extra))
        assert run.failed and message in run.result["msg"], (extra, run.result)
        assert live.read_bytes() == before


def test_restart_units_after_a_change_and_refuse_unknown_units(ansible_module, lab, lab_env, tmp_path):
    live, _good = make_env_dir(tmp_path)
    before = live.read_bytes()
    env = {"PATH": lab["LAB_BIN"] + os.pathsep + lab_env["PATH"]}
    run = ansible_module("env_file_restore", {"path": str(live), "restart_units": ["nope.service"]}, env=env)
    assert run.failed and "unit nope.service not found" in run.result["msg"]
    assert live.read_bytes() == before
    run = ansible_module("env_file_restore", {"path": str(live), "restart_units": [lab["LAB_SERVER_UNIT"]],
                                              "wait_sleep": 0.2}, env=env)
    assert not run.failed, run.stdout
    assert run.result["restarted"] == [lab["LAB_SERVER_UNIT"]]
    state = subprocess.run([lab["LAB_SYSTEMCTL"], "is-active", lab["LAB_SERVER_UNIT"]], capture_output=True,
                           text=True, check=False).stdout.strip()
    assert state == "active"
