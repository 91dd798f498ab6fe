"""Delegation of a task (Engine.delegate / Engine.resolve_task): the owner who handed it on and
the state of the delegation, "pending" until the delegate resolves it, then "resolved".

Plain added columns, nullable: no table rebuild, so 0008's status-copy triggers stay.

Revision ID: 0010
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("human_tasks", sa.Column("owner", sa.String(length=200), nullable=True))
    op.add_column("human_tasks", sa.Column("delegation", sa.String(length=20), nullable=True))


def downgrade() -> None:
    # SQLite drops a column without rebuilding the table since 3.35, so the triggers stay.
    op.drop_column("human_tasks", "delegation")
    op.drop_column("human_tasks", "owner")
