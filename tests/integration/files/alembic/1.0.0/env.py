"""Alembic environment of the demo release: the database comes from the caller, never from a file.

In order: a connection handed over in ``config.attributes["connection"]`` (Alembic's cookbook for
programmatic use), ``-x url=...`` on the command line, or the ``sqlalchemy.url`` option.
"""

from alembic import context
from sqlalchemy import create_engine, pool

config = context.config


def run_migrations_online():
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=None)
        with context.begin_transaction():
            context.run_migrations()
        return
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise SystemExit("no database: pass -x url=postgresql://... or set sqlalchemy.url")
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=None)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) mode is not used by this release")
run_migrations_online()
