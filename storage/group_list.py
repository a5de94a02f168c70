"""The console's list of groups (mixed into ``storage.store.Store``): one page of the
directory, filtered, sorted and searched in SQL, with the total.

The search is folded as the bot folds what residents type
(``knowledge.text.fold_search``: width, kana, 異体字), over a column written with the group
(``groups.search_text``: name, description and contact), so 「ミライ」 finds 「みらい」,
「ﾃｽﾄ」 「テスト」 and 「高橋」 「髙橋」, with one LIKE and no Python loop over 20,000 groups.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Integer, exists, false, func, or_
from sqlalchemy import select as core_select

from knowledge.text import fold_search
from storage.groups import GroupView, _group_views, _HasConnections
from storage.models import Group, GroupField, area_bits

SORTS = ("name", "updated", "unverified")  # the first is the default
STATES = ("unverified", "verified", "sample")  # or "": every group
CITYWIDE = "citywide"  # the area filter's value for groups active in the whole city


@dataclass(frozen=True, slots=True)
class DirectoryQuery:
    """What staff asked the list for. ``text``: as typed (folded here); ``area``: an area
    code or ``citywide``; ``state``: one of :data:`STATES` or empty; ``sort``: one of
    :data:`SORTS` (anything else sorts by name)."""

    text: str = ""
    field: str = ""
    area: str = ""
    state: str = ""
    sort: str = "name"


@dataclass(frozen=True, slots=True)
class DirectoryPage:
    """One page of the list: its groups, how many match in all, and how many sample groups
    the whole directory holds (the page offers to remove them)."""

    groups: list[GroupView]
    total: int
    samples: int


def _conditions(query: DirectoryQuery) -> list[Any]:
    groups = Group.__table__  # type: ignore[attr-defined]
    fields = GroupField.__table__  # type: ignore[attr-defined]
    found: list[Any] = []
    typed = query.text.strip()
    if typed:
        folded = fold_search(typed)
        # A query that folds to nothing (only punctuation) can still be a key.
        text = groups.c.search_text.contains(folded, autoescape=True) if folded else false()
        found.append(or_(text, groups.c.key == typed))
    if query.field:
        found.append(
            exists().where(fields.c.group_id == groups.c.id, fields.c.field == query.field)
        )
    if query.area == CITYWIDE:
        found.append(groups.c.citywide)
    elif query.area:
        found.append(groups.c.area_mask.op("&")(area_bits([query.area])) != 0)
    if query.state == "unverified":
        found.append(groups.c.verified.is_(False))
    elif query.state == "verified":
        found.append(groups.c.verified.is_(True))
    elif query.state == "sample":
        found.append(groups.c.is_sample.is_(True))
    return found


def _order(sort: str) -> list[Any]:
    groups = Group.__table__  # type: ignore[attr-defined]
    if sort == "updated":
        return [groups.c.updated_at.desc(), groups.c.id.desc()]
    if sort == "unverified":  # 未確認 first, then by name
        return [groups.c.verified.cast(Integer()), groups.c.name, groups.c.id]
    return [groups.c.name, groups.c.id]


class GroupListQueries:
    """The console list's statements."""

    def directory_page(
        self: _HasConnections, query: DirectoryQuery, *, limit: int = 50, offset: int = 0
    ) -> DirectoryPage:
        """One page of the groups ``query`` selects, in its order, with the total."""
        groups = Group.__table__  # type: ignore[attr-defined]
        where = _conditions(query)
        page = (
            core_select(groups.c.id, func.count().over().label("total"))
            .where(*where)
            .order_by(*_order(query.sort))
            .limit(limit)
            .offset(max(0, offset))
        )
        samples = core_select(func.count()).select_from(groups).where(groups.c.is_sample)
        with self.reading() as s:
            rows = s.execute(page).all()
            if rows:
                total = int(rows[0].total)
            elif offset:  # paged past the end: the window count came back empty
                count = core_select(func.count()).select_from(groups).where(*where)
                total = int(s.execute(count).scalar_one())
            else:
                total = 0
            views = _group_views(s, [(int(r.id), 3) for r in rows])
            sample_count = int(s.execute(samples).scalar_one())
        return DirectoryPage(views, total, sample_count)
