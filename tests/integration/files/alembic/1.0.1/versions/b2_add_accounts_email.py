"""add accounts.email

Revision ID: b2
Revises: a1
Create Date: 2026-01-17 09:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "b2"
down_revision = "a1"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("accounts", sa.Column("email", sa.String(200), nullable=True))


def downgrade():
    op.drop_column("accounts", "email")
