"""outbox.about_user_id: whose details a notice to someone else carries (a new sign-up told
to the group names the volunteer), so 「データ削除」 removes it with them; invite_attempts:
invite codes a user sent that did not link them, a few an hour per user

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-10 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("about_user_id", sa.Integer(), nullable=True))
        batch.create_index(batch.f("ix_outbox_about_user_id"), ["about_user_id"], unique=False)
        batch.create_foreign_key(
            "fk_outbox_about_user_id_users", "users", ["about_user_id"], ["id"],
            ondelete="CASCADE",
        )  # fmt: skip
    op.create_table(
        "invite_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_invite_attempts_user_at", "invite_attempts", ["user_id", "at"])


def downgrade() -> None:
    op.drop_index("ix_invite_attempts_user_at", table_name="invite_attempts")
    op.drop_table("invite_attempts")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_constraint("fk_outbox_about_user_id_users", type_="foreignkey")
        batch.drop_index(batch.f("ix_outbox_about_user_id"))
        batch.drop_column("about_user_id")
