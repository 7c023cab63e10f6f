"""Users' full names, printed with their electronic signatures (21 CFR 11.50).

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("full_name", sa.String(128)))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("full_name")
