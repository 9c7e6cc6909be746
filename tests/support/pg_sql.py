"""SQL text of psycopg2 ``sql`` compositions without a connection (``as_string`` needs one to quote)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from psycopg2 import sql


def render(part):
    """Identifiers double-quoted (inner quotes doubled) as PostgreSQL's quote_ident does; SQL as it is."""
    if isinstance(part, sql.Composed):
        return "".join(render(item) for item in part.seq)
    if isinstance(part, sql.Identifier):
        return ".".join('"%s"' % name.replace('"', '""') for name in part.strings)
    return part.string


def texts(statements):
    return [render(statement) for statement in statements]
