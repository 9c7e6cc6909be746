"""plugins/module_utils/postgres_dump.py beyond test_postgres_dump.py: the tar and boundary cases of detect_format,
find_bin_dir's search, and the command lines Tools gives pg_dump, pg_restore and psql (run_command replaced, so no
PostgreSQL client is needed). These kill the mutants ./dev mutate found surviving.

PostgreSQL 16 docs cited: pg_dump https://www.postgresql.org/docs/16/app-pgdump.html, pg_restore
https://www.postgresql.org/docs/16/app-pgrestore.html, libpq environment variables
https://www.postgresql.org/docs/16/libpq-envars.html; the tar header: src/port/tar.c tarCreateHeader."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import io
import os
import tarfile

import pytest

from ansible_collections.rollback.core.plugins.module_utils import postgres_dump
from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError
from ansible_collections.rollback.core.plugins.module_utils.postgres_dump import Tools, detect_format, find_bin_dir

LOGIN = dict(host="db.example.com", port=5433, user="restorer", password="s3cret")


def write(tmp_path, content):
    path = tmp_path / "dump"
    path.write_bytes(content)
    return str(path)


# --- detect_format ---------------------------------------------------------------------------------------------

def test_tar_archive(tmp_path):
    # pg_dump -Ft writes ustar headers: "ustar" at offset 257 of each 512-byte header (src/port/tar.c).
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as archive:
        data = b"PGDMP toc"
        info = tarfile.TarInfo("toc.dat")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    assert detect_format(write(tmp_path, buffer.getvalue())) == "tar"


def test_tar_magic_at_the_shortest_head(tmp_path):
    # 262 bytes are enough to hold the magic; one less is not a tar header.
    head = b"\x00" * 257 + b"ustar"
    assert detect_format(write(tmp_path, head)) == "tar"
    with pytest.raises(RollbackError, match="neither a pg_dump archive nor SQL text"):
        detect_format(write(tmp_path, head[:-1]))


def test_custom_magic_only_at_the_start(tmp_path):
    with pytest.raises(RollbackError, match="no SQL statement"):
        detect_format(write(tmp_path, b"xPGDMP and some text\n"))


def test_only_the_first_512_bytes_are_read(tmp_path):
    # The SQL statement after byte 512 is not seen: the file is judged from its head.
    with pytest.raises(RollbackError, match="first 512 bytes"):
        detect_format(write(tmp_path, b"-" * 512 + b"\nSELECT 1;\n"))
    assert detect_format(write(tmp_path, b" " * 500 + b"SELECT 1;\n")) == "plain"
    # A statement whose keyword ends at the 512th byte is seen, one a byte further is not.
    assert detect_format(write(tmp_path, b" " * 506 + b"SELECT 1;\n")) == "plain"
    with pytest.raises(RollbackError, match="first 512 bytes"):
        detect_format(write(tmp_path, b" " * 507 + b"SELECT 1;\n"))


def test_multibyte_character_cut_at_byte_512_is_fine(tmp_path):
    # "é" is two bytes in UTF-8: starting at byte 511, only its first byte is in the head.
    content = b"SELECT 1; --" + b" " * 499 + u"\u00e9".encode("utf-8") + b"\n"
    assert len(content) > 512 and content[511:512] == b"\xc3"
    assert detect_format(write(tmp_path, content)) == "plain"


def test_four_byte_character_cut_after_three_bytes_is_fine(tmp_path):
    content = b"SELECT 1; --" + b" " * 497 + u"\U0001f600".encode("utf-8") + b"\n"
    assert content[509:512] == b"\xf0\x9f\x98"
    assert detect_format(write(tmp_path, content)) == "plain"


@pytest.mark.parametrize("at", [490, 508, 509, 511])
def test_invalid_utf8_is_refused_wherever_it_is(tmp_path, at):
    # 0xff never occurs in UTF-8 (RFC 3629 section 1), at the end of the head or before it.
    content = b"SELECT 1; --" + b" " * (at - 12) + b"\xff" + b" " * 20
    assert content[at:at + 1] == b"\xff"
    with pytest.raises(RollbackError, match="neither a pg_dump archive nor SQL text"):
        detect_format(write(tmp_path, content))


@pytest.mark.parametrize("byte", [b"\x1f", b"\x1b", b"\x01"])
def test_control_bytes_are_refused(tmp_path, byte):
    with pytest.raises(RollbackError, match="neither a pg_dump archive nor SQL text"):
        detect_format(write(tmp_path, b"SELECT 1;" + byte + b"\n"))


def test_tab_cr_and_formfeed_are_text(tmp_path):
    assert detect_format(write(tmp_path, b"SELECT\t1;\r\n\f\n")) == "plain"


def test_unreadable_dump(tmp_path):
    with pytest.raises(RollbackError) as raised:
        detect_format(str(tmp_path / "missing"))
    assert raised.value.msg == "cannot read dump %s: No such file or directory" % (tmp_path / "missing")


# --- find_bin_dir ----------------------------------------------------------------------------------------------

def bin_dir(path):
    path.mkdir(parents=True)
    (path / "pg_restore").write_text(u"")
    return str(path)


def test_requested_directory(tmp_path):
    assert find_bin_dir(bin_dir(tmp_path / "pg16")) == str(tmp_path / "pg16")
    with pytest.raises(RollbackError, match="pg_bin_dir %s has no pg_restore" % tmp_path):
        find_bin_dir(str(tmp_path))


def test_path_first(tmp_path, monkeypatch):
    found = bin_dir(tmp_path / "b")
    monkeypatch.setenv("PATH", os.pathsep.join(["", str(tmp_path / "a"), found]))
    monkeypatch.setattr(postgres_dump.glob, "glob", lambda pattern: pytest.fail("PATH had pg_restore"))
    assert find_bin_dir() == found


def test_newest_install_by_version_number(tmp_path, monkeypatch):
    # Debian's /usr/lib/postgresql/<major>/bin: 10 is newer than 9, compared as numbers, not text.
    dirs = dict((version, bin_dir(tmp_path / "usr/lib/postgresql" / version / "bin")) for version in ("9", "10"))
    (tmp_path / "usr/lib/postgresql/17/bin").mkdir(parents=True)  # an install without pg_restore
    dirs["17"] = str(tmp_path / "usr/lib/postgresql/17/bin")
    monkeypatch.setenv("PATH", str(tmp_path / "nothing"))
    monkeypatch.setattr(postgres_dump.glob, "glob",
                        lambda pattern: [dirs["9"], dirs["17"], dirs["10"]] if "postgresql" in pattern else [])
    assert find_bin_dir() == dirs["10"]


def test_newest_rhel_install_by_version_number(tmp_path, monkeypatch):
    # PGDG RPMs install to /usr/pgsql-<version>/bin (9.6 and before: major.minor): 16 > 10 > 9.6.
    dirs = dict((version, bin_dir(tmp_path / ("usr/pgsql-%s/bin" % version))) for version in ("9.6", "16", "10"))
    monkeypatch.setenv("PATH", str(tmp_path / "nothing"))
    for order in (["9.6", "16", "10"], ["16", "10", "9.6"], ["10", "9.6", "16"]):
        monkeypatch.setattr(postgres_dump.glob, "glob",
                            lambda pattern, order=order: [dirs[v] for v in order] if "pgsql" in pattern else [])
        assert find_bin_dir() == dirs["16"]


def test_nothing_found(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(postgres_dump.glob, "glob", lambda pattern: [])
    with pytest.raises(RollbackError, match="pg_restore not found"):
        find_bin_dir()


# --- Tools -----------------------------------------------------------------------------------------------------

@pytest.fixture
def calls(monkeypatch):
    """The run_command calls; ``calls.result`` is what the next ones return."""
    recorded = []

    def run_command(argv, what, env=None, timeout=None):
        recorded.append(dict(argv=argv, what=what, env=env))
        return recorded.result

    recorded = type("Calls", (list,), {})()
    recorded.result = (0, "", "")
    monkeypatch.setattr(postgres_dump, "run_command", run_command)
    return recorded


def connection(database):
    return ["--host", "db.example.com", "--port", "5433", "--username", "restorer", "--no-password", "--dbname",
            database]


def test_password_only_in_the_environment(calls, monkeypatch):
    # libpq reads PGPASSWORD (libpq-envars); --no-password makes it fail instead of prompting.
    monkeypatch.delenv("PGPASSWORD", raising=False)
    executed = []
    Tools("/pg/bin", LOGIN, executed).dump_custom("shop", "/backup/shop.dump", 6)
    [call] = calls
    assert call["argv"] == ["/pg/bin/pg_dump"] + connection("shop") + ["--format=custom", "--compress=6", "--file",
                                                                       "/backup/shop.dump"]
    assert call["env"]["PGPASSWORD"] == "s3cret"
    assert call["what"] == "emergency pg_dump of shop"
    assert executed == [" ".join(["pg_dump"] + connection("shop") + ["--format=custom", "--compress=6", "--file",
                                                                     "/backup/shop.dump"])]
    assert "s3cret" not in executed[0]


def test_no_password_no_pgpassword(calls, monkeypatch):
    monkeypatch.delenv("PGPASSWORD", raising=False)
    Tools("/pg/bin", dict(LOGIN, password=None), []).dump("shop", "/backup/d", "custom")
    assert "PGPASSWORD" not in calls[0]["env"]


@pytest.mark.parametrize("fmt,jobs,extra", [
    ("directory", 4, ["--jobs", "4"]),
    ("directory", 1, []),
    ("directory", 2, ["--jobs", "2"]),
    ("directory", 0, []),
    # pg_dump: "You can only use this option with the directory output format" (--jobs).
    ("custom", 4, []),
    ("tar", 4, []),
])
def test_dump_jobs_only_for_directory(calls, fmt, jobs, extra):
    Tools("/pg/bin", LOGIN, []).dump("shop", "/backup/d", fmt, jobs)
    assert calls[0]["argv"] == ["/pg/bin/pg_dump"] + connection("shop") + ["--format=%s" % fmt, "--file",
                                                                           "/backup/d"] + extra
    assert calls[0]["what"] == "pg_dump of shop"


def test_formats_are_compared_by_value(calls):
    # dump_format is a module parameter (parsed from JSON): a new string, never ``is`` a literal.
    directory, plain = "".join(list("directory")), "".join(list("plain"))
    tools = Tools("/pg/bin", LOGIN, [])
    tools.dump("shop", "/backup/d", directory, 4)
    tools.restore("/backup/shop.sql", plain, "shop", 1, False)
    assert calls[0]["argv"][-2:] == ["--jobs", "4"]
    assert calls[1]["argv"][0] == "/pg/bin/psql"


def test_a_tar_archive_is_restored_by_pg_restore(calls):
    # pg_restore reads custom, directory and tar archives; only plain SQL goes to psql (pg_restore docs).
    Tools("/pg/bin", LOGIN, []).restore("/backup/shop.tar", "tar", "shop", 1, False)
    assert calls[0]["argv"][0] == "/pg/bin/pg_restore"


def test_dump_is_one_job_by_default(calls):
    Tools("/pg/bin", LOGIN, []).dump("shop", "/backup/d", "directory")
    assert "--jobs" not in calls[0]["argv"]


def test_dump_command_is_recorded(calls):
    executed = []
    argv, env, what = Tools("/pg/bin", LOGIN, executed).dump_command("shop")
    assert argv == ["/pg/bin/pg_dump"] + connection("shop") + ["--format=custom"]
    assert env["PGPASSWORD"] == "s3cret"
    assert what == "pg_dump of shop"
    assert executed == [" ".join(["pg_dump"] + connection("shop") + ["--format=custom"])]
    assert calls == []


@pytest.mark.parametrize("jobs,no_owner,extra", [
    (1, False, []),
    (2, False, ["--jobs", "2"]),
    (1, True, ["--no-owner", "--no-privileges"]),
    (0, False, []),  # jobs is an int without a lower bound: 0 is one job, not pg_restore's "invalid number"
])
def test_restore_archive(calls, jobs, no_owner, extra):
    Tools("/pg/bin", LOGIN, []).restore("/backup/shop.dump", "custom", "shop", jobs, no_owner)
    assert calls[0]["argv"] == (["/pg/bin/pg_restore"] + connection("shop") + ["--exit-on-error"] + extra
                                + ["/backup/shop.dump"])
    assert calls[0]["what"] == "restoring /backup/shop.dump into shop"


def test_restore_plain_runs_psql_in_one_transaction(calls):
    # psql: ON_ERROR_STOP=1 with --single-transaction makes a failing statement roll the whole script back.
    Tools("/pg/bin", LOGIN, []).restore("/backup/shop.sql", "plain", "shop", 4, True)
    assert calls[0]["argv"] == ["/pg/bin/psql"] + connection("shop") + [
        "--no-psqlrc", "--quiet", "--set", "ON_ERROR_STOP=1", "--single-transaction", "--file", "/backup/shop.sql"]
    assert len(calls) == 1


def test_table_of_contents_leaves_out_comments(calls):
    # pg_restore --list: lines starting with a semicolon are comments.
    calls.result = (0, ";\n; Archive created at 2026-12-04\n;\n3; 2615 2200 SCHEMA - public postgres\n\n"
                       "215; 1259 16386 TABLE public orders shop\n", "")
    toc = Tools("/pg/bin", LOGIN, []).table_of_contents("/backup/shop.dump")
    assert toc == ["3; 2615 2200 SCHEMA - public postgres", "215; 1259 16386 TABLE public orders shop"]
    assert calls[0]["argv"] == ["/pg/bin/pg_restore", "--list", "/backup/shop.dump"]


@pytest.mark.parametrize("stderr,reason", [
    ("pg_restore: connecting to database\npg_restore: error: could not open input file\npg_restore: hint\n",
     "pg_restore: error: could not open input file"),
    ("psql: FATAL: password authentication failed\n\n", "psql: FATAL: password authentication failed"),
    ("first line\n  last line  \n\n", "last line"),
    ("", "exit 3"),
    ("  \n", "exit 3"),
])
def test_failure_names_the_last_error(calls, stderr, reason):
    calls.result = (3, "", stderr)
    with pytest.raises(RollbackError) as raised:
        Tools("/pg/bin", LOGIN, []).restore("/backup/shop.dump", "custom", "shop", 1, False)
    assert raised.value.msg == "restoring /backup/shop.dump into shop failed: %s" % reason


def test_a_tool_killed_by_a_signal_failed(calls):
    # subprocess: "A negative value -N indicates that the child was terminated by signal N" (the OOM killer's 9).
    calls.result = (-9, "", "")
    with pytest.raises(RollbackError) as raised:
        Tools("/pg/bin", LOGIN, []).restore("/backup/shop.dump", "custom", "shop", 1, False)
    assert raised.value.msg == "restoring /backup/shop.dump into shop failed: exit -9"


def test_success_returns_stdout(calls):
    calls.result = (0, "out", "error: a warning on stderr is no failure")
    assert Tools("/pg/bin", LOGIN, []).run("psql", ["-c", "SELECT 1"], "probe") == "out"
