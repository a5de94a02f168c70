"""recruitment_calls.hidden_from: the status a call had when the center hid it, so showing
it again gives back a closed call closed, not open

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 17:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("recruitment_calls") as batch:
        batch.add_column(sa.Column("hidden_from", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("recruitment_calls") as batch:
        batch.drop_column("hidden_from")
