"""The group directory (mixed into ``storage.store.Store``): importing and editing groups,
the residents' ranked search (``find_groups``), and the console's paged, sorted and
filtered list with its folded search (``directory_page``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from datetime import datetime
from functools import cache
from typing import Any, Protocol

from sqlalchemy import (
    ColumnElement,
    Connection,
    Integer,
    Select,
    and_,
    bindparam,
    case,
    delete,
    func,
    literal,
)
from sqlalchemy import select as core_select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from knowledge.text import fold_search
from storage.models import Group, GroupArea, GroupField, area_bits, utcnow


class _HasConnections(Protocol):
    def session(self) -> AbstractContextManager[Session]: ...

    def reading(self) -> AbstractContextManager[Session]: ...

    def _turn_connection(self) -> AbstractContextManager[Connection]: ...


@dataclass(frozen=True, slots=True)
class GroupRecord:
    """A group as the directory (CSV, console) describes it; ``areas`` empty means citywide."""

    key: str
    name: str
    description: str = ""
    fields: tuple[str, ...] = ()
    areas: tuple[str, ...] = ()
    contact: str = ""
    welcomes_newcomers: bool = True
    welcomes_young: bool = False
    verified: bool = True

    @property
    def citywide(self) -> bool:
        return not self.areas


@dataclass(frozen=True, slots=True)
class GroupView:
    """A group as residents see it, with why it ranked where it did."""

    id: int
    key: str
    name: str
    description: str
    contact: str
    fields: tuple[str, ...]
    areas: tuple[str, ...]
    citywide: bool
    welcomes_newcomers: bool
    welcomes_young: bool
    verified: bool
    is_sample: bool
    area_rank: int = 3  # 0 same area, 1 neighbouring, 2 citywide, 3 elsewhere
    updated_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class ImportSummary:
    """What an import changed: groups added, and groups whose details the file replaced
    (``updated_keys``, by key). An import never removes a group; the sample directory goes
    only when staff remove it (``Store.remove_samples``), and ``samples_left`` says how many
    sample groups are still there."""

    created: int
    updated: int
    updated_keys: tuple[str, ...] = ()
    samples_left: int = 0


def _chunks(items: list[Any], size: int = 900) -> Iterator[list[Any]]:
    """Slices small enough for one IN list on every backend."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _codes_of_every_group(s: Session) -> tuple[dict[int, list[str]], dict[int, list[str]]]:
    """Each group's field codes and area codes, read in two plain reads (for every group at
    once: on PostgreSQL, per-group subqueries took twice as long for 20,000 groups)."""
    fields = GroupField.__table__  # type: ignore[attr-defined]
    areas = GroupArea.__table__  # type: ignore[attr-defined]
    by_field: dict[int, list[str]] = {}
    by_area: dict[int, list[str]] = {}
    for gid, code in _plain_rows(s, core_select(fields.c.group_id, fields.c.field)):
        by_field.setdefault(gid, []).append(code)
    for gid, code in _plain_rows(s, core_select(areas.c.group_id, areas.c.area)):
        by_area.setdefault(gid, []).append(code)
    return by_field, by_area


def _plain_rows(s: Session, stmt: Select[Any]) -> list[tuple[Any, ...]]:
    """A statement without parameters run on the driver's own cursor: its plain tuples, for
    reads of tens of thousands of rows (SQLAlchemy's rows cost as much again as the read)."""
    connection = s.connection()
    sql = str(stmt.compile(dialect=connection.dialect, compile_kwargs={"literal_binds": True}))
    cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(sql)
        return list(cursor.fetchall())
    finally:
        cursor.close()


def _group_columns() -> list[Any]:
    """What a group view shows: its columns, and its field and area codes as "a,b"."""
    groups = Group.__table__  # type: ignore[attr-defined]
    fields = GroupField.__table__  # type: ignore[attr-defined]
    areas = GroupArea.__table__  # type: ignore[attr-defined]

    def codes(table: Any, column: Any) -> Any:  # "a,b" (order varies; sorted in Python)
        return (
            core_select(func.aggregate_strings(column, ","))
            .where(table.c.group_id == groups.c.id)
            .scalar_subquery()
        )

    return [
        groups.c.id,
        groups.c.key,
        groups.c.name,
        groups.c.description,
        groups.c.contact,
        groups.c.citywide,
        groups.c.welcomes_newcomers,
        groups.c.welcomes_young,
        groups.c.verified,
        groups.c.is_sample,
        groups.c.updated_at,
        codes(fields, fields.c.field).label("fields"),
        codes(areas, areas.c.area).label("areas"),
    ]


_GROUP_DETAILS = core_select(*_group_columns()).where(
    Group.__table__.c.id.in_(bindparam("ids", expanding=True))  # type: ignore[attr-defined]
)


def _order(by_area: bool) -> tuple[ColumnElement[Any], list[Any]]:
    """A group's area rank (0 same area, 1 neighbouring, 2 citywide, 3 elsewhere) and the
    ranking order: area rank, newcomers welcome first, then name."""
    groups = Group.__table__  # type: ignore[attr-defined]
    area_rank: ColumnElement[Any] = literal(3)
    if by_area:
        mask = groups.c.area_mask
        area_rank = case(
            (groups.c.citywide, 2),
            (mask.op("&")(bindparam("same", type_=Integer())) != 0, 0),
            (mask.op("&")(bindparam("near", type_=Integer())) != 0, 1),
            else_=3,
        )
    return area_rank, [area_rank, groups.c.welcomes_newcomers.desc(), groups.c.name, groups.c.id]


@cache
def _ranked_groups(by_field: bool, by_area: bool) -> Select[Any]:
    """One page of verified group ids with their area rank and the total, as a statement
    built once per shape (parameters: field, same, near, limit, offset)."""
    groups = Group.__table__  # type: ignore[attr-defined]
    fields = GroupField.__table__  # type: ignore[attr-defined]
    area_rank, order = _order(by_area)
    ranked = core_select(
        groups.c.id, area_rank.label("area_rank"), func.count().over().label("total")
    )
    if by_field:
        ranked = ranked.select_from(fields).join(
            groups,
            and_(groups.c.id == fields.c.group_id, fields.c.field == bindparam("field")),
        )
    else:
        ranked = ranked.select_from(groups)
    return (
        ranked.where(groups.c.verified)
        .order_by(*order)
        .limit(bindparam("limit"))
        .offset(bindparam("offset"))
    )


@cache
def _ranked_page(by_field: bool, by_area: bool) -> Select[Any]:
    """One page of ranked groups with everything a view shows, in one statement (a round
    trip fewer than the ids and then their details)."""
    groups = Group.__table__  # type: ignore[attr-defined]
    page = _ranked_groups(by_field, by_area).subquery("page")
    # The page's own order again, on its few rows (a window numbering every match cost more
    # than the round trip it saved, with 20,000 groups).
    return (
        core_select(*_group_columns(), page.c.area_rank, page.c.total)
        .select_from(page.join(groups, groups.c.id == page.c.id))
        .order_by(page.c.area_rank, groups.c.welcomes_newcomers.desc(), groups.c.name, groups.c.id)
    )


def _view(g: Any, rank: int) -> GroupView:
    """A group view from a row of ``_group_columns()``."""
    return GroupView(
        id=int(g.id),
        key=g.key,
        name=g.name,
        description=g.description,
        contact=g.contact,
        fields=tuple(sorted(filter(None, (g.fields or "").split(",")))),
        areas=tuple(sorted(filter(None, (g.areas or "").split(",")))),
        citywide=bool(g.citywide),
        welcomes_newcomers=bool(g.welcomes_newcomers),
        welcomes_young=bool(g.welcomes_young),
        verified=bool(g.verified),
        is_sample=bool(g.is_sample),
        area_rank=rank,
        updated_at=g.updated_at,
    )


def _group_views(c: Session | Connection, ranked: list[tuple[int, int]]) -> list[GroupView]:
    """Views of the groups ``ranked`` names (id, area rank), in that order."""
    if not ranked:
        return []
    rows = c.execute(_GROUP_DETAILS, {"ids": [i for i, _ in ranked]}).all()
    groups = {int(r.id): r for r in rows}
    return [_view(groups[gid], rank) for gid, rank in ranked if gid in groups]


def _describe(group: Group, r: GroupRecord, now: datetime) -> None:
    """Write a record's details (not its fields and areas: ``_replace_codes``) on a group."""
    group.name, group.description, group.contact = r.name, r.description, r.contact
    group.citywide = r.citywide
    group.area_mask = area_bits(r.areas)
    group.welcomes_newcomers = r.welcomes_newcomers
    group.welcomes_young = r.welcomes_young
    group.verified, group.updated_at = r.verified, now
    group.search_text = search_text(r.name, r.description, r.contact)


def search_text(name: str, description: str, contact: str) -> str:
    """What the console's search looks in: the three folded, apart (a space, which folding
    removes from a query, so a query never spans two of them)."""
    return " ".join(fold_search(part) for part in (name, description, contact))


def _replace_codes(
    s: Session, groups: list[tuple[Group, GroupRecord]], known_ids: list[int]
) -> None:
    """The groups' field and area codes as their records give them (``known_ids``: groups
    that had codes before, cleared first)."""
    for chunk in _chunks(known_ids):
        s.execute(delete(GroupField).where(col(GroupField.group_id).in_(chunk)))
        s.execute(delete(GroupArea).where(col(GroupArea.group_id).in_(chunk)))
    s.add_all(
        GroupField(group_id=int(g.id or 0), field=f)
        for g, r in groups
        for f in dict.fromkeys(r.fields)
    )
    s.add_all(
        GroupArea(group_id=int(g.id or 0), area=a)
        for g, r in groups
        for a in dict.fromkeys(r.areas)
    )


class GroupQueries:
    """The directory's statements."""

    def import_groups(
        self: _HasConnections, records: list[GroupRecord], *, sample: bool = False
    ) -> ImportSummary:
        """Upsert ``records`` by key in one transaction: a new key adds a group, a known key
        replaces that group's details with the record's (the summary names them). Nothing
        else changes: no group is removed, the sample directory included.

        A record of a real import (``sample=False``) is a real group, also when its key was
        a sample's.
        """
        with self.session() as s:
            existing: dict[str, Group] = {}
            for chunk in _chunks([r.key for r in records]):
                existing.update(
                    (g.key, g) for g in s.exec(select(Group).where(col(Group.key).in_(chunk)))
                )
            now = utcnow()
            groups: list[tuple[Group, GroupRecord]] = []
            for r in records:
                group = existing.get(r.key) or Group(key=r.key, name=r.name)
                _describe(group, r, now)
                group.is_sample = sample
                groups.append((group, r))
            s.add_all(g for g, _ in groups)
            s.flush()  # one batched INSERT for the new ones; ids assigned
            _replace_codes(s, groups, [int(g.id or 0) for g in existing.values()])
            samples_left = int(
                s.exec(select(func.count()).select_from(Group).where(col(Group.is_sample))).one()
            )
        return ImportSummary(
            created=len(records) - len(existing),
            updated=len(existing),
            updated_keys=tuple(sorted(existing)),
            samples_left=samples_left,
        )

    def add_group(self: _HasConnections, record: GroupRecord) -> int | None:
        """A new group (the console's 「団体を追加」), not yet verified whatever the record
        says: residents see it once staff have checked it and marked it so. Its id, or None
        when a group already has the key: then nothing is changed (editing that group is the
        way to change it)."""
        try:
            with self.session() as s:
                taken = s.exec(select(Group.id).where(col(Group.key) == record.key)).first()
                if taken is not None:
                    return None
                group = Group(key=record.key, name=record.name)
                _describe(group, replace(record, verified=False), utcnow())
                s.add(group)
                s.flush()  # a concurrent add of the same key fails here (the unique key)
                _replace_codes(s, [(group, record)], [])
                return int(group.id or 0)
        except IntegrityError:
            return None

    def update_group(self: _HasConnections, group_id: int, record: GroupRecord) -> bool:
        """Replace one group's details with ``record``'s; its key and whether it is a sample
        stay as they are. False when there is no such group."""
        with self.session() as s:
            group = s.get(Group, group_id)
            if group is None:
                return False
            _describe(group, record, utcnow())
            s.add(group)
            _replace_codes(s, [(group, record)], [group_id])
            return True

    def set_group_verified(self: _HasConnections, group_id: int, verified: bool) -> bool:
        """Mark a group checked by the center (shown to residents) or not. False: no group."""
        with self.session() as s:
            group = s.get(Group, group_id)
            if group is None:
                return False
            group.verified, group.updated_at = verified, utcnow()
            s.add(group)
            return True

    def count_groups(self: _HasConnections, *, include_samples: bool = True) -> int:
        """How many groups the directory holds."""
        with self.session() as s:
            stmt = select(func.count()).select_from(Group)
            if not include_samples:
                stmt = stmt.where(col(Group.is_sample).is_(False))
            return int(s.exec(stmt).one())

    def find_groups(
        self: _HasConnections,
        field: str | None,
        area: str | None,
        neighbours: tuple[str, ...] = (),
        *,
        limit: int = 5,
        offset: int = 0,
    ) -> tuple[list[GroupView], int]:
        """Verified groups ranked for a resident: field, then same / neighbouring area /
        citywide / elsewhere, newcomers welcome first. Returns one page and the total."""
        ranked = _ranked_groups(field is not None, area is not None)
        params = {
            "field": field,
            "same": area_bits([area]) if area else 0,
            "near": area_bits(list(neighbours)),
            "limit": limit,
            "offset": offset,
        }
        with self._turn_connection() as c:  # a read: autocommit on PostgreSQL
            rows = c.execute(_ranked_page(field is not None, area is not None), params).all()
            if rows:
                total = int(rows[0].total)
            elif offset:  # paged past the end: the window count came back empty
                count = core_select(func.count()).select_from(
                    ranked.limit(None).offset(None).subquery()
                )
                total = int(c.execute(count, params).scalar_one())
            else:
                total = 0
        return [_view(r, int(r.area_rank)) for r in rows], total

    def get_group(self: _HasConnections, group_id: int) -> GroupView | None:
        """One group, whatever its status (staff and detail views)."""
        with self.reading() as s:
            views = _group_views(s, [(group_id, 3)])
        return views[0] if views else None

    def group_by_key(self: _HasConnections, key: str) -> GroupView | None:
        """The group with this directory key, whatever its status."""
        with self.reading() as s:
            found = s.exec(select(Group.id).where(col(Group.key) == key)).first()
            views = _group_views(s, [(int(found), 3)]) if found is not None else []
        return views[0] if views else None

    def all_groups(self: _HasConnections, *, include_samples: bool = False) -> list[GroupView]:
        """Every group, ordered by key (export)."""
        groups = Group.__table__  # type: ignore[attr-defined]
        stmt = core_select(*(c for c in _group_columns() if c.name not in ("fields", "areas")))
        if not include_samples:
            stmt = stmt.where(groups.c.is_sample.is_(False))
        with self.session() as s:  # one snapshot for the three reads
            rows = s.execute(stmt.order_by(groups.c.key)).all()
            by_field, by_area = _codes_of_every_group(s)
        return [
            GroupView(
                id=r.id, key=r.key, name=r.name, description=r.description, contact=r.contact,
                fields=tuple(sorted(by_field.get(r.id, ()))),
                areas=tuple(sorted(by_area.get(r.id, ()))),
                citywide=bool(r.citywide), welcomes_newcomers=bool(r.welcomes_newcomers),
                welcomes_young=bool(r.welcomes_young), verified=bool(r.verified),
                is_sample=bool(r.is_sample), updated_at=r.updated_at,
            )
            for r in rows
        ]  # fmt: skip

    def directory_rows(
        self: _HasConnections, *, include_samples: bool = False
    ) -> list[tuple[str, str, str, str, str, str, bool, bool, bool]]:
        """Every group as the directory CSV's columns, ordered by key: key, name,
        description, fields and areas (sorted codes joined by "|"; areas "" when citywide),
        contact, welcomes newcomers, welcomes young, verified. The export's path: plain
        tuples, no views (20,000 groups)."""
        groups = Group.__table__  # type: ignore[attr-defined]
        stmt = core_select(
            groups.c.id, groups.c.key, groups.c.name, groups.c.description, groups.c.contact,
            groups.c.welcomes_newcomers, groups.c.welcomes_young, groups.c.verified,
        ).order_by(groups.c.key)  # fmt: skip
        if not include_samples:
            stmt = stmt.where(groups.c.is_sample.is_(False))
        with self.session() as s:  # one snapshot for the three reads
            rows = _plain_rows(s, stmt)
            by_field, by_area = _codes_of_every_group(s)
        none: list[str] = []
        return [
            (
                key, name, description,
                "|".join(sorted(by_field.get(gid, none))),
                "|".join(sorted(by_area.get(gid, none))),
                contact, bool(newcomers), bool(young), bool(verified),
            )
            for gid, key, name, description, contact, newcomers, young, verified in rows
        ]  # fmt: skip

    def field_counts(self: _HasConnections, area: str | None = None) -> list[tuple[str, int]]:
        """Verified groups per field (in ``area``, or citywide ones, when given), most first."""
        with self.session() as s:
            stmt = (
                select(col(GroupField.field), func.count(func.distinct(col(Group.id))))
                .join(Group, col(Group.id) == col(GroupField.group_id))
                .where(col(Group.verified))
            )
            if area:
                stmt = stmt.outerjoin(GroupArea, col(GroupArea.group_id) == col(Group.id)).where(
                    (col(GroupArea.area) == area) | col(Group.citywide)
                )
            stmt = stmt.group_by(col(GroupField.field)).order_by(
                func.count(func.distinct(col(Group.id))).desc(), col(GroupField.field)
            )
            return [(str(f), int(n)) for f, n in s.exec(stmt).all()]
