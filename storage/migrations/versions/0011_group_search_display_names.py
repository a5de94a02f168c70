"""groups.search_text: a group's name, description and contact folded for the console's
search (knowledge.text fold_search: kana, width, 異体字), filled for the groups there are;
representatives.display_name: the name the platform shows for a representative

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-11 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 1000


def upgrade() -> None:
    with op.batch_alter_table("groups") as batch:
        batch.add_column(sa.Column("search_text", sa.String(), nullable=False, server_default=""))
    with op.batch_alter_table("representatives") as batch:
        batch.add_column(sa.Column("display_name", sa.String(length=100), nullable=True))
    _fill_search_text()


def _fill_search_text() -> None:
    # The app's own folding, as it is at this revision: the column must hold what
    # storage.groups writes for a new or edited group. Should fold_search change, a later
    # revision fills the column again.
    from storage.groups import search_text

    bind = op.get_bind()
    groups = sa.table(
        "groups",
        sa.column("id", sa.Integer()),
        sa.column("name", sa.String()),
        sa.column("description", sa.String()),
        sa.column("contact", sa.String()),
        sa.column("search_text", sa.String()),
    )
    rows = bind.execute(
        sa.select(groups.c.id, groups.c.name, groups.c.description, groups.c.contact)
    ).all()
    update = (
        groups.update()
        .where(groups.c.id == sa.bindparam("group_id"))
        .values(search_text=sa.bindparam("text"))
    )
    for start in range(0, len(rows), BATCH):
        bind.execute(
            update,
            [
                {"group_id": r.id, "text": search_text(r.name, r.description, r.contact)}
                for r in rows[start : start + BATCH]
            ],
        )


def downgrade() -> None:
    with op.batch_alter_table("representatives") as batch:
        batch.drop_column("display_name")
    with op.batch_alter_table("groups") as batch:
        batch.drop_column("search_text")
