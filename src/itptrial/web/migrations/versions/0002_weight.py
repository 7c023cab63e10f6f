"""Body weight at enrolment (optional), for the tacrolimus dosing advice; the reason a
subject was marked randomized in error.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    with op.batch_alter_table("subjects") as batch:
        batch.add_column(sa.Column("weight_kg", sa.Float))
        batch.add_column(sa.Column("error_reason", sa.Text))


def downgrade() -> None:
    with op.batch_alter_table("subjects") as batch:
        batch.drop_column("error_reason")
        batch.drop_column("weight_kg")
