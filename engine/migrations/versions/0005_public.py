"""Public intake and tracking: access-token hashes and idempotency of submissions (`intakes`),
the trail of complainants' requests with refusals (`public_actions`) and the per-address
counters of the public rate limit (`public_rate_limits`). Models: handlers/intake.py and
api/public_limits.py.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "intakes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tracking_number", sa.String(length=40), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("idempotency_hash", sa.String(length=64), nullable=True),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("tracking_number", name="uq_intakes_tracking_number"),
        sa.UniqueConstraint("idempotency_hash", name="uq_intakes_idempotency_hash"),
    )
    op.create_index("ix_intakes_status_created_at", "intakes", ["status", "created_at"])

    op.create_table(
        "public_actions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tracking_number", sa.String(length=40), nullable=False),
        sa.Column("action", sa.String(length=30), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=True),
        sa.Column("client", sa.String(length=64), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_public_actions_tracking_number", "public_actions", ["tracking_number"])

    op.create_table(
        "public_rate_limits",
        sa.Column("bucket", sa.String(length=64), nullable=False),
        sa.Column("window_start", sa.BigInteger(), nullable=False),
        sa.Column("hits", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("bucket", "window_start"),
    )
    op.create_index("ix_public_rate_limits_window_start", "public_rate_limits", ["window_start"])


def downgrade() -> None:
    op.drop_index("ix_public_rate_limits_window_start", table_name="public_rate_limits")
    op.drop_table("public_rate_limits")
    op.drop_index("ix_public_actions_tracking_number", table_name="public_actions")
    op.drop_table("public_actions")
    op.drop_index("ix_intakes_status_created_at", table_name="intakes")
    op.drop_table("intakes")
