"""The plain-dump reader refuses what would leave the side database, as psql would run it (psqlscan.l:
backslash commands anywhere outside quotes and comments; COPY ... FROM stdin data up to a line ``\\.``)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest
from ansible_collections.rollback.core.plugins.module_utils.base import RollbackError
from ansible_collections.rollback.core.plugins.module_utils.postgres_plain import check_plain

PG_DUMP_15_14 = """--
-- PostgreSQL database dump
--

\\restrict Ab12Cd34

SET statement_timeout = 0;
SELECT pg_catalog.set_config('search_path', '', false);
CREATE TABLE public.t (id integer, v text);
ALTER TABLE public.t OWNER TO app;
COPY public.t (id, v) FROM stdin;
1\t\\\\connect other
2\t\\N
3\t-- not a comment; \\c x
\\.
CREATE FUNCTION public.f() RETURNS text LANGUAGE plpgsql AS $_$
BEGIN
  RETURN E'\\\\c' || $x$ \\connect y $x$;
END
$_$;
GRANT SELECT ON TABLE public.t TO ro;
REVOKE ALL ON SCHEMA public FROM PUBLIC;
ALTER DEFAULT PRIVILEGES FOR ROLE app IN SCHEMA public GRANT SELECT ON TABLES TO ro;
COMMENT ON TABLE public.t IS 'a \\connect in a string
\\connect still in the string';
/* a block /* nested */ \\connect in a comment */
SELECT 'it''s \\c fine', "col\\c" FROM public.t;

\\unrestrict Ab12Cd34
"""


def write(tmp_path, text):
    path = tmp_path / "dump.sql"
    path.write_text(text)
    return str(path)


def test_what_pg_dump_writes_passes(tmp_path):
    assert check_plain(write(tmp_path, PG_DUMP_15_14)) == PG_DUMP_15_14.count("\n")


@pytest.mark.parametrize("text,line,message", [
    ("SET x = 1;\n\\connect live\nDELETE FROM t;\n", 2, "\\connect live switches to another database"),
    ("\\c live\n", 1, "\\c live switches to another database"),
    ("SELECT 1; \\c live\n", 1, "\\c live switches to another database"),
    ("SELECT 'a';\n\\! rm -rf /\n", 2, "meta-command \\! is not SQL"),
    ("\\i other.sql\n", 1, "meta-command \\i is not SQL"),
    ("\\set ON_ERROR_STOP off\n", 1, "meta-command \\set is not SQL"),
    ("COPY t FROM stdin;\n1\n\\.\n\\connect x\n", 4, "\\connect x"),
    ("ALTER DATABASE live SET search_path = x;\n", 1, "changes the whole cluster"),
    ("CREATE DATABASE live WITH TEMPLATE = template0;\n", 1, "changes the whole cluster"),
    ("SELECT 1;\n\nALTER ROLE app\n  IN DATABASE live SET work_mem = '1MB';\n", 3, "changes the whole cluster"),
    ("GRANT CONNECT ON DATABASE live TO PUBLIC;\n", 1, "changes the whole cluster"),
    ("GRANT pg_write_server_files TO app;\n", 1, "changes the whole cluster"),
    ("DROP TABLESPACE fast;\n", 1, "changes the whole cluster"),
    ("ALTER SYSTEM SET fsync = off;\n", 1, "changes the whole cluster"),
])
def test_leaving_the_side_database_is_refused_with_the_line(tmp_path, text, line, message):
    path = write(tmp_path, text)
    with pytest.raises(RollbackError) as error:
        check_plain(path)
    assert error.value.msg.startswith("plain dump %s, line %d: " % (path, line))
    assert message in error.value.msg and error.value.msg.endswith("nothing was changed")
