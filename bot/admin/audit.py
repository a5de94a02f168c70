"""``/admin/audit``: who did what, newest first, in Japanese (each action identifier's words
are in ``knowledge/console.toml`` ``[audit_actions]``), filtered by action, staff member and
days (Kamakura's calendar), a page at a time."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, time, timedelta

from aiohttp import web

from bot.admin import common, labels
from bot.admin.html import e, field, options, pager, table
from bot.admin.words import section, w
from knowledge.when import TOKYO
from storage.audit import AuditFilter

PER_PAGE = 50


def action_label(action: str) -> str:
    """What an action identifier means; an identifier without words is shown as it is."""
    return section("audit_actions").get(action, action)


def _day(text: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def _start(day: date) -> datetime:
    """The moment a day begins in Kamakura."""
    return datetime.combine(day, time(), tzinfo=TOKYO)


async def audit_log(request: web.Request) -> web.Response:
    """``GET /admin/audit?action=&actor=&since=&until=&page=``."""
    store = common.conversation(request).store
    q = request.query
    action, actor = q.get("action", "")[:64], q.get("actor", "")[:64]
    since_text, until_text = q.get("since", "")[:10], q.get("until", "")[:10]
    since, until = _day(since_text), _day(until_text)
    errors = {
        name: w("audit", "bad_date")
        for name, text, day in (("since", since_text, since), ("until", until_text, until))
        if text and day is None
    }
    where = AuditFilter(
        action=action,
        actor=actor,
        since=_start(since) if since else None,
        until=_start(until + timedelta(days=1)) if until else None,
    )
    page_text = q.get("page", "1")
    page = (
        max(1, min(int(page_text), 100_000))
        if page_text.isascii() and page_text.isdecimal()
        else 1
    )
    found = await asyncio.to_thread(store.audit_page, where, (page - 1) * PER_PAGE, PER_PAGE)
    accounts = await asyncio.to_thread(store.staff_accounts, datetime.now(UTC))
    actors = list(dict.fromkeys([*(a.username for a in accounts), w("staff_cli", "actor")]))
    if actor and actor not in actors:
        actors.append(actor)
    filters = (
        '<form method="get" action="/admin/audit" class="filters">'
        + field(
            w("audit", "action"),
            '<select name="action">'
            + options(section("audit_actions").items(), action, w("audit", "any_action"))
            + "</select>",
            id="audit-action",
        )
        + field(
            w("audit", "actor"),
            '<select name="actor">'
            + options(((a, a) for a in actors), actor, w("audit", "any_actor"))
            + "</select>",
            id="audit-actor",
        )
        + field(
            w("audit", "since"),
            f'<input type="date" name="since" value="{e(since_text)}">',
            id="audit-since",
            error=errors.get("since", ""),
        )
        + field(
            w("audit", "until"),
            f'<input type="date" name="until" value="{e(until_text)}">',
            id="audit-until",
            error=errors.get("until", ""),
        )
        + f'<button type="submit">{e(w("audit", "filter"))}</button></form>'
    )
    rows = [
        [
            e(labels.at(a.at, seconds=True)),
            e(a.actor),
            e(action_label(a.action)),
            e(a.detail),
        ]
        for a in found.entries
    ]
    headers = [w("audit", k) for k in ("col_when", "col_actor", "col_action", "col_detail")]
    pages = max(1, -(-found.total // PER_PAGE))
    kept = {"action": action, "actor": actor, "since": since_text, "until": until_text}
    listing = (
        f"<p>{e(w('audit', 'count', n=found.total))}</p>"
        + table(headers, rows)
        + pager("/admin/audit", kept, page, pages)
        if rows
        else f"<p>{e(w('audit', 'none'))}</p>"
    )
    status = 400 if errors else 200
    return common.render(request, w("audit", "title"), filters + listing, status)


def add_routes(app: web.Application) -> None:
    """Mount the audit log."""
    app.router.add_get("/admin/audit", audit_log)
