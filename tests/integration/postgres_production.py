"""A PostgreSQL database set up the way production ones are, on the lab's real PostgreSQL 15, and its catalog facts.

What a database is apart from its contents lives in the shared catalogs, keyed by its OID (PostgreSQL 15
documentation, "System Catalogs"): ``pg_database`` (datdba, datacl, datconnlimit, dattablespace, datallowconn,
datlocprovider, daticulocale, datcollate, datctype), ``pg_db_role_setting`` (setdatabase, setrole = 0 for ALTER
DATABASE ... SET, a role's OID for ALTER ROLE ... IN DATABASE ... SET), ``pg_shdescription`` (COMMENT ON
DATABASE). A dump made without --create holds none of it (pg_dump documentation, --create: "the database's own
ACL, comments and settings" are dumped only then). Inside the database: owners and ACLs in pg_namespace,
pg_class, pg_attribute (column ACLs), pg_proc, ``pg_default_acl`` and ``pg_publication``.

The facts are read here with plain SQL, independently of the module's own code.
"""

import json
import os
import subprocess
import uuid

import psycopg2
import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


DUMP_FORMATS = {"custom": (["-Fc"], ".dump"), "directory": (["-Fd"], ".dir"), "tar": (["-Ft"], ".tar"),
                "plain": (["-Fp"], ".sql"), "plain_no_owner": (["-Fp", "-O", "-x"], ".noowner.sql"),
                "plain_create": (["-Fp", "-C"], ".create.sql")}


class Dumps(dict):
    """The source database's dumps, made on first use: ``dumps["custom"]`` is a path."""

    def __init__(self, cluster):
        super().__init__()
        self.cluster = cluster

    def __missing__(self, fmt):
        flags, suffix = DUMP_FORMATS[fmt]
        path = os.path.join(self.cluster.dump_dir, self.cluster.source + suffix)
        self.cluster.tool("pg_dump", *(flags + ["-f", path, self.cluster.source]))
        self[fmt] = path
        return path


class Cluster:
    """The lab's PostgreSQL as its superuser, plus the roles, tablespace and source database of one test module."""

    def __init__(self, lab):
        self.lab = lab
        self.suffix = uuid.uuid4().hex[:6]
        s = self.suffix
        self.app, self.ro, self.out, self.login = "app_%s" % s, "ro_%s" % s, "out_%s" % s, "rb_%s" % s
        self.password = "rb-pass-%s" % s
        self.tablespace = "ts_%s" % s
        self.tablespace_dir = os.path.join(lab["LAB_DIR"], "rbt-%s" % self.tablespace)
        self.source, self.bystander = "src_%s" % s, "by_%s" % s
        self.dumps = Dumps(self)
        self.counter = 0

    def connect(self, database="postgres", user=None, password=None):
        connection = psycopg2.connect(host=self.lab["LAB_PG_HOST"], port=self.lab["LAB_PG_PORT"],
                                      user=user or self.lab["LAB_PG_USER"],
                                      password=password or self.lab["LAB_PG_PASSWORD"], dbname=database)
        connection.autocommit = True
        return connection

    def sql(self, database, statement, args=None):
        connection = self.connect(database)
        try:
            with connection.cursor() as cursor:
                cursor.execute(statement, args)
                return cursor.fetchall() if cursor.description else None
        finally:
            connection.close()

    def tool(self, name, *args):
        subprocess.run([os.path.join(self.lab["LAB_PG_BIN"], name), "-h", self.lab["LAB_PG_HOST"], "-p",
                        str(self.lab["LAB_PG_PORT"]), "-U", self.lab["LAB_PG_USER"]] + list(args),
                       env=dict(os.environ, PGPASSWORD=self.lab["LAB_PG_PASSWORD"]), check=True, capture_output=True)

    def databases(self, prefix):
        return sorted(row[0] for row in self.sql("postgres", "SELECT datname FROM pg_database WHERE datname LIKE %s",
                                                 (prefix + "%",)))

    def setup(self, dump_dir):
        s, app, ro, out, login = self.suffix, self.app, self.ro, self.out, self.login
        for role in (app, ro, out):
            self.sql("postgres", "CREATE ROLE %s NOLOGIN" % role)
        self.sql("postgres", "CREATE ROLE %s LOGIN CREATEDB PASSWORD '%s' IN ROLE %s, pg_signal_backend, "
                             "pg_read_all_data" % (login, self.password, app))
        self.sql("postgres", "GRANT %s TO %s" % (ro, login))  # verify as_role ro: SET ROLE needs membership
        os.makedirs(self.tablespace_dir)
        subprocess.run(["chown", "postgres:postgres", self.tablespace_dir], check=True)
        self.sql("postgres", "CREATE TABLESPACE %s LOCATION '%s'" % (self.tablespace, self.tablespace_dir))
        self.sql("postgres", "GRANT CREATE ON TABLESPACE %s TO %s" % (self.tablespace, login))
        self.sql("postgres", "CREATE DATABASE %s OWNER %s TABLESPACE %s TEMPLATE template0 LOCALE_PROVIDER icu "
                             "ICU_LOCALE 'en-US' LC_COLLATE 'C.UTF-8' LC_CTYPE 'C.UTF-8'"
                             % (self.source, login, self.tablespace))
        self.sql(self.source, """
            CREATE SCHEMA app AUTHORIZATION {app};
            SET ROLE {app};
            CREATE TABLE app.orders (id serial PRIMARY KEY, item text NOT NULL, created timestamptz DEFAULT now());
            CREATE TABLE app.audit (id bigint GENERATED ALWAYS AS IDENTITY, what text);
            CREATE VIEW app.recent AS SELECT id, item FROM app.orders;
            CREATE FUNCTION app.order_count() RETURNS bigint LANGUAGE sql AS 'SELECT count(*) FROM app.orders';
            ALTER DEFAULT PRIVILEGES FOR ROLE {app} IN SCHEMA app GRANT SELECT ON TABLES TO {ro};
            ALTER DEFAULT PRIVILEGES FOR ROLE {app} REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;
            GRANT USAGE ON SCHEMA app TO {ro};
            GRANT SELECT ON app.orders, app.recent TO {ro};
            GRANT SELECT (id, what) ON app.audit TO {ro};
            REVOKE EXECUTE ON FUNCTION app.order_count() FROM PUBLIC;
            GRANT EXECUTE ON FUNCTION app.order_count() TO {ro};
            INSERT INTO app.orders (item) SELECT 'item-' || g FROM generate_series(1, 1000) g;
            INSERT INTO app.audit (what) VALUES ('created');
            RESET ROLE;
            SET ROLE {login};
            CREATE PUBLICATION cdc_{s} FOR TABLE app.orders;
            RESET ROLE;
        """.format(app=app, ro=ro, login=login, s=s))
        self.dump_dir = dump_dir
        self.sql("postgres", "CREATE DATABASE %s" % self.bystander)
        self.sql("postgres", "ALTER DATABASE %s SET work_mem = '8MB'" % self.bystander)
        self.sql("postgres", "ALTER ROLE %s IN DATABASE %s SET statement_timeout = '1min'" % (app, self.bystander))
        self.sql("postgres", "REVOKE CONNECT ON DATABASE %s FROM PUBLIC" % self.bystander)
        self.sql("postgres", "COMMENT ON DATABASE %s IS 'reports'" % self.bystander)

    def live(self):
        """A fresh live database from the source: its contents (1000 orders) plus its identity, then one more order
        written after the dump."""
        self.counter += 1
        name = "live_%s_%d" % (self.suffix, self.counter)
        app, ro = self.app, self.ro
        self.sql("postgres", "CREATE DATABASE %s TEMPLATE %s OWNER %s TABLESPACE %s"
                 % (name, self.source, self.login, self.tablespace))
        for statement in (
                "REVOKE ALL ON DATABASE {db} FROM PUBLIC",
                "GRANT CONNECT ON DATABASE {db} TO {app}, {ro}",
                "GRANT CONNECT, TEMPORARY ON DATABASE {db} TO {login}",
                "ALTER DATABASE {db} SET statement_timeout = '5s'",
                "ALTER DATABASE {db} SET search_path = app, public",
                "ALTER ROLE {app} IN DATABASE {db} SET lock_timeout = '3s'",
                "ALTER ROLE {ro} IN DATABASE {db} SET default_transaction_read_only = on",
                "ALTER DATABASE {db} CONNECTION LIMIT 50",
                "COMMENT ON DATABASE {db} IS 'orders of the shop'"):
            self.sql("postgres", statement.format(db=name, app=app, ro=ro, login=self.login))
        self.sql(name, "INSERT INTO app.orders (item) VALUES ('written after the dump')")
        return name

    def drop_databases(self, prefix):
        for name in self.databases(prefix):
            self.sql("postgres", 'DROP DATABASE "%s" WITH (FORCE)' % name)

    def teardown(self):
        """Leave nothing behind, even after a failure: every step is tried, the first error raised at the end."""
        errors = []

        def step(func, *args):
            try:
                func(*args)
            except Exception as error:  # noqa: BLE001 - keep cleaning, report after
                errors.append(error)

        for slot, in self.sql("postgres", "SELECT slot_name FROM pg_replication_slots WHERE slot_name LIKE %s",
                              ("%%_%s" % self.suffix,)):
            step(self.sql, "postgres", "SELECT pg_drop_replication_slot(%s)", (slot,))
        for gid, database in self.sql("postgres", "SELECT gid, database FROM pg_prepared_xacts WHERE gid LIKE %s",
                                      ("%%_%s" % self.suffix,)):
            step(self.sql, database, "ROLLBACK PREPARED %s", (gid,))
        for prefix in ("live_%s" % self.suffix, self.source, self.bystander):
            step(self.drop_databases, prefix)
        step(self.sql, "postgres", "DROP TABLESPACE IF EXISTS %s" % self.tablespace)
        step(subprocess.run, ["rm", "-rf", self.tablespace_dir])
        for role in (self.login, self.app, self.ro, self.out):
            if self.sql("postgres", "SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)):
                step(self.sql, "postgres", "DROP OWNED BY %s; DROP ROLE %s" % (role, role))
        if errors:
            raise errors[0]

    def facts(self, name, inside=True):
        """Every catalog fact of database ``name`` that is not its contents, with names instead of OIDs
        (``inside=False``: only the shared catalogs', for a database without the app schema)."""
        shared = self.sql("postgres", """
            SELECT json_build_object(
              'owner', pg_get_userbyid(d.datdba), 'encoding', pg_encoding_to_char(d.encoding),
              'locale_provider', d.datlocprovider, 'collate', d.datcollate, 'ctype', d.datctype,
              'icu_locale', d.daticulocale, 'connection_limit', d.datconnlimit, 'allow_connections', d.datallowconn,
              'is_template', d.datistemplate, 'tablespace', t.spcname,
              'acl', ARRAY(SELECT format('%%s=%%s%%s/%%s', CASE WHEN a.grantee = 0 THEN 'PUBLIC'
                                         ELSE pg_get_userbyid(a.grantee) END, a.privilege_type,
                                         CASE WHEN a.is_grantable THEN '*' ELSE '' END, pg_get_userbyid(a.grantor))
                           FROM aclexplode(d.datacl) a ORDER BY 1),
              'comment', shobj_description(d.oid, 'pg_database'),
              'settings', ARRAY(SELECT coalesce(nullif(s.setrole::regrole::text, '-'), '(database)') || ': '
                                       || array_to_string(ARRAY(SELECT unnest(s.setconfig) ORDER BY 1), '; ')
                                FROM pg_db_role_setting s WHERE s.setdatabase = d.oid ORDER BY 1))
            FROM pg_database d JOIN pg_tablespace t ON t.oid = d.dattablespace WHERE d.datname = %s""", (name,))
        if not inside:
            return dict(database=shared[0][0])
        inside = self.sql(name, """
            SET search_path TO pg_catalog;
            WITH acl(what, owner, acl) AS (
              SELECT 'schema ' || n.nspname, n.nspowner, n.nspacl FROM pg_namespace n
                WHERE n.nspname IN ('app', 'public')
              UNION ALL SELECT c.relkind::text || ' ' || c.oid::regclass, c.relowner, c.relacl FROM pg_class c
                WHERE c.relnamespace = 'app'::regnamespace AND c.relkind IN ('r', 'v', 'S')
              UNION ALL SELECT 'column ' || a.attrelid::regclass || '.' || a.attname, NULL, a.attacl
                FROM pg_attribute a WHERE a.attrelid = 'app.audit'::regclass AND a.attnum > 0
              UNION ALL SELECT 'function ' || p.oid::regprocedure, p.proowner, p.proacl FROM pg_proc p
                WHERE p.pronamespace = 'app'::regnamespace
              UNION ALL SELECT 'default acl ' || pg_get_userbyid(d.defaclrole) || ' ' || coalesce(n.nspname, '(all)')
                               || ' ' || d.defaclobjtype::text, NULL, d.defaclacl
                FROM pg_default_acl d LEFT JOIN pg_namespace n ON n.oid = d.defaclnamespace
              UNION ALL SELECT 'publication ' || p.pubname || ' ' || p.pubinsert || p.pubupdate || p.pubdelete
                               || p.pubtruncate || ' ' || array_to_string(ARRAY(SELECT tablename
                                 FROM pg_publication_tables t WHERE t.pubname = p.pubname ORDER BY 1), ','),
                               p.pubowner, NULL FROM pg_publication p
            )
            SELECT json_object_agg(what, json_build_object('owner', pg_get_userbyid(owner), 'acl',
                   ARRAY(SELECT format('%s=%s/%s', CASE WHEN a.grantee = 0 THEN 'PUBLIC'
                                       ELSE pg_get_userbyid(a.grantee) END, a.privilege_type,
                                       pg_get_userbyid(a.grantor)) FROM aclexplode(acl) a ORDER BY 1)))
            FROM acl""")
        privileges = self.sql(name, """
            SELECT json_object_agg(r || ' ' || o, ok) FROM unnest(%s::text[]) r,
              LATERAL (VALUES ('connect', has_database_privilege(r, current_database(), 'CONNECT')),
                              ('usage app', has_schema_privilege(r, 'app', 'USAGE')),
                              ('select orders', has_table_privilege(r, 'app.orders', 'SELECT')),
                              ('insert orders', has_table_privilege(r, 'app.orders', 'INSERT')),
                              ('select audit', has_table_privilege(r, 'app.audit', 'SELECT')),
                              ('select audit.what', has_column_privilege(r, 'app.audit', 'what', 'SELECT')),
                              ('usage orders_id_seq', has_sequence_privilege(r, 'app.orders_id_seq', 'USAGE')),
                              ('execute order_count', has_function_privilege(r, 'app.order_count()', 'EXECUTE')))
                      AS x(o, ok)""", ([self.app, self.ro, self.out, "public"],))
        return dict(database=shared[0][0], objects=inside[0][0], privileges=privileges[0][0])

    def orders(self, name):
        return self.sql(name, "SELECT count(*) FROM app.orders")[0][0]


def cluster_fixture():
    """The module-scoped ``cluster`` fixture of a test module: ``cluster = cluster_fixture()``."""

    @pytest.fixture(scope="module")
    def cluster(lab, tmp_path_factory):
        made = Cluster(lab)
        try:
            made.setup(str(tmp_path_factory.mktemp("dumps")))
            yield made
        finally:
            made.teardown()

    return cluster


def run_module(lab, tmp_path, args, login=None):
    """The module's file run as Ansible runs it on the target (one process, arguments in a JSON file)."""
    base = dict(login_host=lab["LAB_PG_HOST"], login_port=int(lab["LAB_PG_PORT"]), login_user=lab["LAB_PG_USER"],
                login_password=lab["LAB_PG_PASSWORD"], pg_bin_dir=lab["LAB_PG_BIN"], emergency_backup=False)
    if login:
        base.update(login_user=login[0], login_password=login[1])
    base.update(args)
    path = tmp_path / ("args-%s.json" % uuid.uuid4().hex[:6])
    path.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": base}))
    completed = subprocess.run([os.path.join(REPO, ".venv", "bin", "python"),
                                os.path.join(REPO, "plugins", "modules", "postgres_restore.py"), str(path)],
                               env=dict(os.environ, PYTHONPATH=os.path.join(REPO, ".collections")),
                               capture_output=True, text=True, check=False, timeout=600)
    try:
        return json.loads(completed.stdout)
    except ValueError:
        raise AssertionError("module output is not JSON: %s %s" % (completed.stdout, completed.stderr))
