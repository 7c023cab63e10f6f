"""The screening platelet count and WHO bleeding grade, for the protocol's eligibility.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    with op.batch_alter_table("subjects") as batch:
        batch.add_column(sa.Column("screening_count", sa.Float))
        batch.add_column(sa.Column("screening_who_grade", sa.Integer))


def downgrade() -> None:
    with op.batch_alter_table("subjects") as batch:
        batch.drop_column("screening_who_grade")
        batch.drop_column("screening_count")
