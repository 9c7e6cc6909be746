-- What rollback.core.postgres_restore needs, and nothing more (PostgreSQL 14 or later).
-- :role is the login the module uses, :db the database it restores. Run as a superuser once.
--   psql -v role=rollback -v db=billing -v password="'...'" -f postgres-role.sql
CREATE ROLE :role LOGIN CREATEDB PASSWORD :password;   -- CREATEDB: the side database it restores into
GRANT pg_read_all_data TO :role;                       -- the emergency pg_dump of the live database
GRANT pg_signal_backend TO :role;                      -- end the live database's sessions before the swap
ALTER DATABASE :db OWNER TO :role;                     -- rename it, disallow connections, label it (COMMENT)
-- Only when the database needs it (the module refuses, before any change, what the login cannot do):
-- ALTER ROLE :role CREATEROLE;                        -- it has ALTER ROLE ... IN DATABASE settings (PostgreSQL 15;
--                                                     -- 16+: CREATEROLE with ADMIN OPTION on those roles)
-- GRANT app TO :role;                                 -- no_owner: each role owning objects or granting in it; and
--                                                     -- each verify as_role (SET ROLE)
-- GRANT CREATE ON TABLESPACE fast TO :role;           -- it lives in a tablespace other than pg_default
-- ALTER ROLE :role REPLICATION;                       -- replication: recreate (drop and create its logical slots)
