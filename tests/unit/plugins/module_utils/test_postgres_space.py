"""postgres_space: the refusal of a restore that would fill the live database's filesystem. The database's files
are ``<data_directory>/base/<oid>`` in pg_default, ``<location>/PG_<version>_<catversion>/<oid>`` in another
tablespace (PostgreSQL docs, "Database File Layout"); the sizes come from a fake server, the free space from the
real filesystem (shutil.disk_usage, patched where a test needs a full disk)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import collections
import os

import pytest

from ansible_collections.rollback.core.plugins.module_utils import postgres_space
from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError
from ansible_collections.rollback.core.plugins.module_utils.postgres_space import check, database_directory, size_of

MB = 1024 * 1024
Usage = collections.namedtuple("Usage", "total used free")


class Main:
    def __init__(self, answers):
        self.answers = answers
        self.asked = []

    def value(self, statement, args=None):
        self.asked.append((statement, args))
        for key, answer in self.answers.items():
            if key in statement:
                if isinstance(answer, Exception):
                    raise answer
                return answer
        raise AssertionError(statement)


class Server:
    def __init__(self, **answers):
        self.main = Main(answers)


IDENTITY = dict(oid=16384, tablespace="pg_default")


def data_dir(tmp_path, oid=16384):
    os.makedirs(str(tmp_path / "data" / "base" / str(oid)))
    return str(tmp_path / "data")


def test_size_of_a_file_a_directory_and_nothing(tmp_path):
    (tmp_path / "dump").mkdir()
    (tmp_path / "dump" / "toc.dat").write_bytes(b"x" * 10)
    (tmp_path / "dump" / "sub").mkdir()
    (tmp_path / "dump" / "sub" / "3001.dat.gz").write_bytes(b"x" * 5)
    assert size_of(str(tmp_path / "dump")) == 15
    assert size_of(str(tmp_path / "dump" / "toc.dat")) == 10
    assert size_of(None) == 0


def test_the_default_tablespace_is_under_the_data_directory(tmp_path):
    server = Server(pg_tablespace_location="", data_directory=data_dir(tmp_path))
    assert database_directory(server, IDENTITY) == (str(tmp_path / "data" / "base" / "16384"), None)


def test_another_tablespace_is_under_its_version_directory(tmp_path):
    os.makedirs(str(tmp_path / "ts" / "PG_16_202307071" / "16384"))
    server = Server(pg_tablespace_location=str(tmp_path / "ts"))
    assert database_directory(server, dict(IDENTITY, tablespace="fast")) == (
        str(tmp_path / "ts" / "PG_16_202307071" / "16384"), None)
    assert server.main.asked[0][1] == ("fast",)
    os.makedirs(str(tmp_path / "other" / "lost+found" / "16384"))  # not a PG_* version directory
    assert database_directory(Server(pg_tablespace_location=str(tmp_path / "other")), IDENTITY)[0] is None


def test_a_directory_this_host_cannot_see_is_named(tmp_path):
    assert database_directory(Server(pg_tablespace_location="", data_directory="/nonexistent/data"), IDENTITY) == (
        None, "its directory (/nonexistent/data/base/16384) is not visible on this host")
    assert database_directory(Server(pg_tablespace_location="/nonexistent/ts"), IDENTITY) == (
        None, "its directory (/nonexistent/ts/PG_*/16384) is not visible on this host")
    server = Server(pg_tablespace_location=RollbackError("permission denied for function pg_tablespace_location"))
    assert database_directory(server, IDENTITY) == (
        None, "its location cannot be read (permission denied for function pg_tablespace_location)")


def test_skip_does_not_look():
    assert check(Server(), IDENTITY, None, "skip") == dict(checked=False, reason="free_space_check=skip")


def test_unseen_directory_warns_in_auto_and_refuses_in_require(tmp_path):
    server = Server(pg_database_size=100 * MB, pg_tablespace_location="", data_directory="/nonexistent")
    result = check(server, IDENTITY, None, "auto")
    assert result["checked"] is False and result["needed"] == int(100 * MB * 1.1)
    assert result["reason"].startswith("the free space of tablespace pg_default cannot be checked: its directory")
    with pytest.raises(RollbackError, match=r"\(run the module on the database server\); free_space_check=require; "
                                            r"nothing was changed$"):
        check(server, IDENTITY, None, "require")


def test_enough_room_uses_the_larger_of_database_and_dump(tmp_path):
    dump = tmp_path / "app.dump"
    dump.write_bytes(b"x" * 2000)
    server = Server(pg_database_size=1000, pg_tablespace_location="", data_directory=data_dir(tmp_path))
    result = check(server, IDENTITY, str(dump), "require")
    assert result["checked"] is True and (result["live_size"], result["dump_size"], result["needed"]) == (
        1000, 2000, 2200)
    assert result["free"] > result["needed"]


def test_not_enough_room_is_refused_with_the_numbers(tmp_path, monkeypatch):
    path = data_dir(tmp_path)
    monkeypatch.setattr(postgres_space.shutil, "disk_usage", lambda where: Usage(0, 0, 50 * MB))
    server = Server(pg_database_size=100 * MB, pg_tablespace_location="", data_directory=path)
    with pytest.raises(RollbackError) as error:
        check(server, IDENTITY, None, "auto")
    assert error.value.msg == (
        "not enough space for the side database in tablespace pg_default (%s/base/16384): about 110.0 MB needed "
        "(the larger of the live database 100.0 MB and the dump 0.0 MB, + 10%%), 50.0 MB free; the live database "
        "would go down with a full disk; nothing was changed" % path)
    assert error.value.details["space"]["free"] == 50 * MB
    monkeypatch.setattr(postgres_space.shutil, "disk_usage", lambda where: Usage(0, 0, int(110 * MB)))
    assert check(server, IDENTITY, None, "auto")["checked"] is True  # exactly enough


def test_an_emergency_dump_on_the_same_filesystem_needs_room_too(tmp_path, monkeypatch):
    path = data_dir(tmp_path)
    dump = tmp_path / "app.dump"
    dump.write_bytes(b"x" * (40 * MB // 1024))
    size = os.path.getsize(str(dump))
    monkeypatch.setattr(postgres_space.shutil, "disk_usage", lambda where: Usage(0, 0, 10 ** 12))
    server = Server(pg_database_size=1000, pg_tablespace_location="", data_directory=path)
    result = check(server, IDENTITY, str(dump), "auto", emergency_dir=str(tmp_path / "not" / "yet" / "made"))
    assert result["needed"] == int(size * 1.1) + size
    monkeypatch.setattr(postgres_space.shutil, "disk_usage", lambda where: Usage(0, 0, int(size * 1.1) + 1))
    with pytest.raises(RollbackError, match=r"\+ 10%, \+ 0.0 MB for the emergency dump in .*not/yet/made\), "):
        check(server, IDENTITY, str(dump), "auto", emergency_dir=str(tmp_path / "not" / "yet" / "made"))


def test_an_emergency_dump_on_another_filesystem_does_not_count(tmp_path, monkeypatch):
    server = Server(pg_database_size=1000, pg_tablespace_location="", data_directory=data_dir(tmp_path))
    assert os.stat("/proc").st_dev != os.stat(str(tmp_path)).st_dev
    dump = tmp_path / "app.dump"
    dump.write_bytes(b"x" * 2000)
    assert check(server, IDENTITY, str(dump), "auto", emergency_dir="/proc/no-such-dir")["needed"] == 2200
