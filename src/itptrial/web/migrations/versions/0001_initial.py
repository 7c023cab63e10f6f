"""The initial schema: users, sessions, the randomization list, subjects, records,
signatures and the append-only, hash-chained audit trail.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None

GENESIS = "0" * 64  # the hash before the first audit entry

APPEND_ONLY_SQLITE = """
CREATE TRIGGER audit_no_{verb} BEFORE {verb} ON audit
BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END
"""
APPEND_ONLY_POSTGRESQL = [
    """
    CREATE FUNCTION audit_append_only() RETURNS trigger AS $$
    BEGIN RAISE EXCEPTION 'the audit trail is append-only'; END
    $$ LANGUAGE plpgsql
    """,
    """
    CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON audit
    FOR EACH ROW EXECUTE FUNCTION audit_append_only()
    """,
    """
    CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit
    FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only()
    """,
]


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("username", sa.String(64), nullable=False, unique=True),
        sa.Column("password_hash", sa.String(200), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("site_id", sa.String(64)),
        sa.Column("active", sa.Boolean, nullable=False),
    )
    op.create_table(
        "tokens",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
        sa.Column("expires_at", sa.String(32), nullable=False),
    )
    op.create_table(
        "login_failures",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("username", sa.String(64), nullable=False, index=True),
        sa.Column("at", sa.String(32), nullable=False),
    )
    op.create_table(
        "randomization_lists",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("uploaded_by", sa.String(64), nullable=False),
        sa.Column("uploaded_at", sa.String(32), nullable=False),
        sa.Column("allocations", sa.Integer, nullable=False),
    )
    op.create_table(
        "slots",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("stratum", sa.String(64), nullable=False),
        sa.Column("sequence", sa.Integer, nullable=False),
        sa.Column("arm", sa.String(64), nullable=False),
        sa.Column("subject_id", sa.String(64), unique=True),
        sa.UniqueConstraint("stratum", "sequence"),
    )
    op.create_table(
        "subjects",
        sa.Column("subject_id", sa.String(64), primary_key=True),
        sa.Column("site_id", sa.String(64), nullable=False, index=True),
        sa.Column("sex", sa.String(1)),
        sa.Column("age", sa.Integer),
        sa.Column("stratum", sa.String(64)),
        sa.Column("arm", sa.String(64)),
        sa.Column("sequence", sa.Integer),
        sa.Column("randomization_date", sa.String(10)),
        sa.Column("randomized_in_error", sa.Boolean, nullable=False),
    )
    op.create_table(
        "records",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "subject_id", sa.String(64), sa.ForeignKey("subjects.subject_id"), nullable=False
        ),
        sa.Column("table_name", sa.String(32), nullable=False),
        sa.Column("data", sa.Text, nullable=False),
        sa.Column("retracted", sa.Boolean, nullable=False),
    )
    op.create_index("ix_records_subject_id", "records", ["subject_id"])
    op.create_table(
        "signatures",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "subject_id", sa.String(64), sa.ForeignKey("subjects.subject_id"), nullable=False
        ),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("full_name", sa.String(128), nullable=False),
        sa.Column("meaning", sa.String(200), nullable=False),
        sa.Column("signed_at", sa.String(32), nullable=False),
    )
    op.create_index("ix_signatures_subject_id", "signatures", ["subject_id"])
    op.create_table(
        "audit",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("at", sa.String(32), nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("table_name", sa.String(32), nullable=False),
        sa.Column("record", sa.String(64), nullable=False),
        sa.Column("old", sa.Text),
        sa.Column("new", sa.Text),
        sa.Column("reason", sa.Text),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False, unique=True),
    )
    head = op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("last_id", sa.Integer, nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.bulk_insert(head, [{"id": 1, "last_id": 0, "hash": GENESIS}])
    if op.get_bind().dialect.name == "postgresql":
        for statement in APPEND_ONLY_POSTGRESQL:
            op.execute(statement)
    else:
        for verb in ("UPDATE", "DELETE"):
            op.execute(APPEND_ONLY_SQLITE.format(verb=verb))


def downgrade() -> None:
    raise RuntimeError("the audit trail is never dropped")
