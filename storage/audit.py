"""The audit log: who changed what in the console (or with ``python -m bot staff``), and the
console's filtered, paged view of it. Mixed into :class:`storage.store.Store`."""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import func
from sqlmodel import Session, col, select

from storage.models import AuditEntry


class _HasSession(Protocol):
    def session(self) -> AbstractContextManager[Session]: ...


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """Which entries to show; an empty field does not filter."""

    action: str = ""
    actor: str = ""
    since: datetime | None = None  # from this moment on
    until: datetime | None = None  # before this moment


@dataclass(frozen=True, slots=True)
class AuditPage:
    """Some entries, newest first, and how many match in all."""

    entries: list[AuditEntry]
    total: int


class AuditQueries:
    """Mixed into Store: writing and reading the audit log."""

    def audit(self: _HasSession, actor: str, action: str, detail: str = "") -> None:
        """Record a change made in the console."""
        with self.session() as s:
            s.add(AuditEntry(actor=actor[:64], action=action[:64], detail=detail[:1000]))

    def audit_log(self: _HasSession, limit: int = 100) -> list[AuditEntry]:
        """The newest audit entries."""
        with self.session() as s:
            stmt = select(AuditEntry).order_by(col(AuditEntry.id).desc()).limit(limit)
            return list(s.exec(stmt).all())

    def audit_page(
        self: _HasSession, where: AuditFilter, offset: int = 0, limit: int = 50
    ) -> AuditPage:
        """The entries ``where`` picks, newest first, ``limit`` from ``offset``."""
        conditions = _conditions(where)
        with self.session() as s:
            total = s.exec(select(func.count()).select_from(AuditEntry).where(*conditions)).one()
            stmt = (
                select(AuditEntry)
                .where(*conditions)
                .order_by(col(AuditEntry.id).desc())
                .offset(max(0, offset))
                .limit(limit)
            )
            return AuditPage(list(s.exec(stmt).all()), int(total))


def _conditions(where: AuditFilter) -> list[Any]:
    conditions: list[Any] = []
    if where.action:
        conditions.append(col(AuditEntry.action) == where.action[:64])
    if where.actor:
        conditions.append(col(AuditEntry.actor) == where.actor[:64])
    if where.since is not None:
        conditions.append(col(AuditEntry.at) >= where.since)
    if where.until is not None:
        conditions.append(col(AuditEntry.at) < where.until)
    return conditions
