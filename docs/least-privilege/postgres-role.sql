-- What rollback.core.postgres_restore needs, and nothing more (PostgreSQL 14 or later).
-- :role is the login the module uses, :db the database it restores. Run as a superuser once.
--   psql -v role=rollback -v db=billing -v password="'...'" -f postgres-role.sql
CREATE ROLE :role LOGIN CREATEDB PASSWORD :password;   -- CREATEDB: the side database it restores into
GRANT pg_read_all_data TO :role;                       -- the emergency pg_dump of the live database
GRANT pg_signal_backend TO :role;                      -- end the live database's sessions before the swap
ALTER DATABASE :db OWNER TO :role;                     -- rename it, disallow connections, label it (COMMENT)
