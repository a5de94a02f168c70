"""staff_sessions: console sessions kept on the server (sign-out, a new password or a
disabled account ends them at once, in every process); staff_login_failures: failed sign-ins
by name and client address (lock-out a visitor cannot aim at someone else); staff_users gains
disabled_at and last_login_at and loses its own failure counter

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-10 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("staff_users") as batch:
        batch.add_column(sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True))
        batch.drop_column("failed_logins")
        batch.drop_column("locked_until")
    op.create_table(
        "staff_sessions",
        sa.Column("id_hash", sa.String(length=64), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["staff_id"], ["staff_users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id_hash"),
    )
    with op.batch_alter_table("staff_sessions") as batch:
        batch.create_index(batch.f("ix_staff_sessions_staff_id"), ["staff_id"], unique=False)
    op.create_table(
        "staff_login_failures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_staff_login_failures_address", "staff_login_failures", ["address", "at"])
    op.create_index("ix_staff_login_failures_username", "staff_login_failures", ["username", "at"])


def downgrade() -> None:
    op.drop_index("ix_staff_login_failures_username", table_name="staff_login_failures")
    op.drop_index("ix_staff_login_failures_address", table_name="staff_login_failures")
    op.drop_table("staff_login_failures")
    with op.batch_alter_table("staff_sessions") as batch:
        batch.drop_index(batch.f("ix_staff_sessions_staff_id"))
    op.drop_table("staff_sessions")
    with op.batch_alter_table("staff_users") as batch:
        batch.add_column(
            sa.Column("failed_logins", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True))
        batch.drop_column("last_login_at")
        batch.drop_column("disabled_at")
