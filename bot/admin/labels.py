"""How the console writes what its lists share: dates (always with the year, Japan time),
representatives (a name, never a platform's raw id), and which page of a long list is shown.
The words are in ``knowledge/console.toml``."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from aiohttp import web

from bot.admin.html import e, pager
from bot.admin.words import w
from knowledge.when import TOKYO
from storage.openings import CallView
from storage.representatives import RepresentativeLink

PER_PAGE = 50  # rows of a long list (groups, calls) on one page
MAX_PAGE = 100_000  # beyond any list: a page number past it is read as this


def date(moment: datetime) -> str:
    """「2026年12月5日」"""
    t = moment.astimezone(TOKYO)
    return w("dates", "date", year=t.year, month=t.month, day=t.day)


def at(moment: datetime, *, seconds: bool = False) -> str:
    """「2026年12月5日 09:30」 (「… 09:30:15」 with ``seconds``, as the audit log keeps them)."""
    t = moment.astimezone(TOKYO)
    return w("dates", "at", date=date(t), time=f"{t:%H:%M:%S}" if seconds else f"{t:%H:%M}")


def _day(t: datetime) -> str:
    weekday = w("dates", "weekdays")[t.weekday()]
    return w("dates", "day", year=t.year, month=t.month, day=t.day, weekday=weekday)


def span(start: datetime, end: datetime) -> str:
    """「2026年12月5日(土) 09:00〜11:30」, or with the end's date when it is another day."""
    s, t = start.astimezone(TOKYO), end.astimezone(TOKYO)
    if s.date() == t.date():
        return w("dates", "span", day=_day(s), start=f"{s:%H:%M}", end=f"{t:%H:%M}")
    return w(
        "dates", "span_days", day=_day(s), start=f"{s:%H:%M}", end_day=_day(t), end=f"{t:%H:%M}"
    )


def call_state(view: CallView, now: datetime) -> str:
    """A call's state, and 「（終了）」 once its time is over (a past call stays 受付中 in the
    database: nothing closes it)."""
    state = w("call_status", view.status)
    if view.ends_at <= now and view.status != "cancelled":
        return state + w("call_list", "ended")
    return state


def platform(code: str) -> str:
    """A platform's name as staff know it (LINE, Telegram, Webチャット …)."""
    try:
        return w("platforms", code)
    except KeyError:
        return code


def representative(link: RepresentativeLink) -> str:
    """「山田 花子（Telegram）」, or 「LINEの利用者（…1a2b）」 while no name is known: the end
    of the id tells two of them apart, the whole id would be of no use to staff."""
    where = platform(link.platform)
    if link.display_name:
        return w("rep_names", "named", name=link.display_name, platform=where)
    return w("rep_names", "unnamed", platform=where, tail=link.platform_user_id[-4:])


def back_in(form_value: object, prefix: str) -> str:
    """Where an action sends the browser back to: the console page its form came from
    (``back``, a path with its query), only when it is a page under ``prefix`` (else
    ``prefix`` itself), so that no form can redirect anywhere else."""
    back = str(form_value or "")
    ok = back.startswith(prefix) and "//" not in back and "\\" not in back
    return back if ok else prefix


def requested_page(request: web.Request) -> int:
    """The page the query asks for (``page``, from 1); 1 when it is not a number."""
    raw = request.query.get("page", "1")
    return min(MAX_PAGE, max(1, int(raw))) if raw.isascii() and raw.isdecimal() else 1


def page_count(total: int) -> int:
    """How many pages ``total`` rows fill (at least one)."""
    return max(1, -(-total // PER_PAGE))


def paging(path: str, params: Mapping[str, str], page: int, pages: int) -> str:
    """The previous and next links (``html.pager``) and a box to go to a page by its number,
    both keeping the list's filters."""
    if pages <= 1:
        return ""
    kept = "".join(
        f'<input type="hidden" name="{e(k)}" value="{e(v)}">' for k, v in params.items() if v
    )
    jump = (
        f'<form method="get" action="{e(path)}" class="inline">{kept}'
        f'<label>{e(w("group_list", "page_label"))} <input type="number" name="page" min="1" '
        f'max="{pages}" value="{page}" inputmode="numeric"></label>'
        f'<button type="submit">{e(w("group_list", "go"))}</button></form>'
    )
    return pager(path, params, page, pages) + jump
