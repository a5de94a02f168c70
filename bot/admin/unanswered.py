"""``/admin/unanswered``: what residents asked that the bot could not answer, grouped, with the
FAQ matcher's best guess beside each group, to attach to an FAQ entry as a new phrasing or to
dismiss.

Grouping is in two steps, so a page stays cheap with thousands of open questions: the
database groups questions by their folded text (biggest first, ``storage.unanswered``); then
near-identical groups are merged (:func:`merge`: a rapidfuzz ratio of the folded texts, or the
same words by the matcher's terms, as a row's first group) over the MERGE_WINDOW biggest
groups at once, whatever page they land on, and the merged rows are paged. Groups beyond the
window (a backlog of thousands of different questions) follow unmerged, a page at a time.

Attaching or dismissing a row applies to every open question that folds like one of its
groups, asked again since the page was shown included. Nothing is preselected: the FAQ entry
is chosen by staff (the guess is only shown), and a submit without one is refused with the
error beside the field.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from itertools import groupby
from typing import Any

from aiohttp import web
from rapidfuzz import fuzz, process

from bot.admin import auth, common, labels
from bot.admin.html import csrf_field, e, field, options, pager, sentence, table
from bot.admin.words import w
from intents.conversation import Conversation
from knowledge.faq import FaqEntry, FaqIndex
from knowledge.terms import terms
from storage.unanswered import MAX_GROUP_IDS, QuestionGroup, UnansweredPage

PER_PAGE = 20  # rows a page shows (each row carries a select of the FAQ)
MERGE_WINDOW = 1000  # the biggest groups merged across pages
SIMILAR = 80  # rapidfuzz ratio of two folded texts from which they are one row
SAME_WORDS = 2  # two groups with the same words (at least this many) are one row
EXAMPLES = 3  # questions shown per row
# The matcher's guess is shown from this confidence on; below it, a guess rests on one common
# word (「名前」 → この指針とは) and would only mislead.
SUGGEST_FLOOR = 0.4


@dataclass(frozen=True, slots=True)
class Row:
    """Near-identical groups of questions, shown as one row."""

    groups: tuple[QuestionGroup, ...]  # the biggest first

    @property
    def id(self) -> int:
        return self.groups[0].id

    @property
    def ids(self) -> list[int]:
        return [g.id for g in self.groups]

    @property
    def count(self) -> int:
        return sum(g.count for g in self.groups)

    @property
    def first(self) -> datetime:
        return min(g.first for g in self.groups)

    @property
    def last(self) -> datetime:
        return max(g.last for g in self.groups)


def _words(text: str) -> frozenset[str]:
    """What a question is about, as the matcher sees it: its words' readings, our concepts
    and English words (not kana bigrams, not the exact kanji chosen)."""
    return frozenset(t for t in terms(text) if t[0] in ("r", "c", "e"))


def merge(groups: list[QuestionGroup]) -> list[Row]:
    """Merge near-identical groups: each group (the biggest first) joins the row whose first
    group it is like (a folded-text ratio ≥ SIMILAR, or the same words), not a row it is
    like only through a chain of others; a row holds at most MAX_GROUP_IDS groups, what one
    change applies to. Biggest rows first, then the most recently asked."""
    rows: list[list[QuestionGroup]] = []
    leaders: list[str] = []  # each row's first group's folded text
    by_words: dict[frozenset[str], int] = {}  # a row by its first group's words
    for group in groups:
        words = _words(group.text)
        like = process.extractOne(group.folded, leaders, scorer=fuzz.ratio, score_cutoff=SIMILAR)
        at = like[2] if like else None
        if at is None and len(words) >= SAME_WORDS:
            at = by_words.get(words)
        if at is not None and len(rows[at]) < MAX_GROUP_IDS:
            rows[at].append(group)
            continue
        rows.append([group])
        leaders.append(group.folded)
        if len(words) >= SAME_WORDS:
            by_words.setdefault(words, len(rows) - 1)
    merged = [Row(tuple(sorted(r, key=lambda g: -g.count))) for r in rows]
    return sorted(merged, key=lambda r: (-r.count, -r.last.timestamp(), r.id))


@lru_cache(maxsize=4)
def _merged(groups: tuple[QuestionGroup, ...]) -> list[Row]:
    """:func:`merge`, kept while the open questions stay the same (paging, reloads)."""
    return merge(list(groups))


@dataclass(frozen=True, slots=True)
class Listing:
    """One page of rows with each row's suggested entry."""

    rows: list[tuple[Row, FaqEntry | None]]
    totals: UnansweredPage
    page: int
    pages: int


def _listing(conv: Conversation, page: int) -> Listing:
    """One page of merged rows (see the module docstring), each with the matcher's guess."""
    window = conv.store.unanswered_groups(0, MERGE_WINDOW)
    merged = _merged(tuple(window.groups))
    beyond = max(0, window.folded_texts - MERGE_WINDOW)  # groups left unmerged
    pages = max(1, -(-(len(merged) + beyond) // PER_PAGE))
    page = min(page, pages)  # the last page emptied (attached, dismissed): the new last one
    start = (page - 1) * PER_PAGE
    shown = merged[start : start + PER_PAGE]
    if len(shown) < PER_PAGE and beyond:
        offset = MERGE_WINDOW + max(0, start - len(merged))
        tail = conv.store.unanswered_groups(offset, PER_PAGE - len(shown)).groups
        shown += [Row((g,)) for g in tail]
    rows = []
    for row in shown:
        best = conv.faq.search(row.groups[0].text, limit=1).best
        rows.append((row, best.entry if best and best.score >= SUGGEST_FLOOR else None))
    return Listing(rows, window, page, pages)


def _day(at: datetime) -> str:
    return labels.date(at)


def _entry_select(faq: FaqIndex, suggested: FaqEntry | None) -> str:
    """The FAQ entries by guideline section, the guess first; 「選んでください」 chosen."""
    first = ""
    if suggested is not None:
        guess = options([(suggested.id, suggested.label)])
        first = f'<optgroup label="{e(w("unanswered", "suggested_group"))}">{guess}</optgroup>'
    sections = "".join(
        f'<optgroup label="{e(source)}">'
        + options((en.id, en.label) for en in entries)
        + "</optgroup>"
        for source, entries in groupby(faq.entries, key=lambda en: en.source)
    )
    placeholder = options([], placeholder=w("unanswered", "choose_entry"))
    return f'<select name="entry">{placeholder}{first}{sections}</select>'


def _actions(
    faq: FaqIndex, token: str, row: Row, suggested: FaqEntry | None, page: int, error: str
) -> str:
    ids = ",".join(map(str, row.ids))
    hidden = (
        f'{csrf_field(token)}<input type="hidden" name="ids" value="{ids}">'
        f'<input type="hidden" name="page" value="{page}">'
    )
    attach = (
        f'<form method="post" action="/admin/unanswered/attach" class="attach">{hidden}'
        + field(
            w("unanswered", "entry_label"),
            _entry_select(faq, suggested),
            id=f"entry-{row.id}",
            error=error,
        )
        + f'<button type="submit">{e(w("unanswered", "attach"))}</button></form>'
    )
    dismiss = (
        f'<form method="post" action="/admin/unanswered/dismiss" class="inline">{hidden}'
        f'<button type="submit" class="secondary">{e(w("unanswered", "dismiss"))}</button></form>'
    )
    return attach + dismiss


def _question(row: Row) -> str:
    texts = list(dict.fromkeys(g.text for g in row.groups))
    shown = "<br>".join(e(t) for t in texts[:EXAMPLES])
    more = len(texts) - EXAMPLES
    if more > 0:
        shown += f'<br><span class="hint">{e(w("unanswered", "more", n=more))}</span>'
    return shown


def _when(row: Row) -> str:
    first, last = (f'<span class="nowrap">{_day(at)}</span>' for at in (row.first, row.last))
    return first if first == last else sentence(w("unanswered", "when"), first=first, last=last)


def _undo(request: web.Request, questions: list[int], page: int) -> str:
    """After 「対応不要」: what was done, and a button that takes back exactly that (the
    questions it changed, signed for this session)."""
    if not questions:
        return ""
    ids = ",".join(map(str, questions))
    session = common.session(request)
    sig = auth.signed(request.app[common.secret_key], session, "undo:" + ids)
    return (
        f'<form method="post" action="/admin/unanswered/restore" role="status">'
        f"{csrf_field(common.csrf(request))}"
        f'<input type="hidden" name="questions" value="{ids}">'
        f'<input type="hidden" name="sig" value="{sig}">'
        f'<input type="hidden" name="page" value="{page}">'
        f"{e(w('unanswered', 'dismissed_note'))} "
        f'<button type="submit">{e(w("unanswered", "restore"))}</button></form>'
    )


def _body(
    request: web.Request,
    listing: Listing,
    errors: Mapping[int, str],
    note: str,
    undo: list[int] | None = None,
) -> str:
    token = common.csrf(request)
    faq = common.conversation(request).faq
    rows = []
    for row, suggested in listing.rows:
        guess = (
            e(w("unanswered", "suggestion", label=suggested.label, source=suggested.source))
            if suggested is not None
            else f'<span class="hint">{e(w("unanswered", "no_suggestion"))}</span>'
        )
        error = next((m for i, m in errors.items() if i in row.ids), "")
        rows.append([
            _question(row), str(row.count), _when(row), guess,
            _actions(faq, token, row, suggested, listing.page, error),
        ])  # fmt: skip
    headers = [w("unanswered", k) for k in
               ("col_question", "col_count", "col_when", "col_suggestion", "col_action")]  # fmt: skip
    alert = f'<p class="error" role="alert">{e(note)}</p>' if note else ""
    alert += _undo(request, undo or [], listing.page)
    count = w("unanswered", "count_groups", n=listing.totals.questions)
    if not listing.rows:
        return alert + f"<p>{e(w('unanswered', 'none'))}</p>"
    paging = pager("/admin/unanswered", {}, listing.page, listing.pages)
    return alert + f"<p>{e(count)}</p>" + table(headers, rows) + paging


def _page_number(value: Any) -> int:
    text = str(value or "1")
    return max(1, min(int(text), 100_000)) if text.isascii() and text.isdecimal() else 1


async def _render(
    request: web.Request,
    page: int,
    errors: Mapping[int, str] | None = None,
    status: int = 200,
    undo: list[int] | None = None,
) -> web.Response:
    conv = common.conversation(request)
    listing = await asyncio.to_thread(_listing, conv, page)
    errors = errors or {}
    shown = {i for row, _ in listing.rows for i in row.ids}
    # The row the error is about may be gone (handled in another tab): say so at the top.
    note = next((w("unanswered", "gone") for i in errors if i not in shown), "")
    body = _body(request, listing, errors, note, undo)
    return common.render(request, w("unanswered", "title"), body, status)


async def unanswered(request: web.Request) -> web.Response:
    """``GET /admin/unanswered?page=N``."""
    return await _render(request, _page_number(request.query.get("page")))


def _ids(form: Any) -> list[int]:
    return [
        int(x)
        for x in str(form.get("ids", "")).split(",")
        if x.isascii() and x.strip().isdecimal()
    ][:MAX_GROUP_IDS]


async def attach(request: web.Request) -> web.StreamResponse:
    """``POST /admin/unanswered/attach``: teach an FAQ entry a row's questions as new
    phrasings (one per folded text; live in this process at once, kept for restarts and the
    other processes) and mark every open question of the row attached."""
    conv = common.conversation(request)
    form = await request.post()
    page = _page_number(form.get("page"))
    ids = _ids(form)
    if not ids:
        raise web.HTTPSeeOther(f"/admin/unanswered?page={page}")
    entry = conv.faq.get(str(form.get("entry", "")))
    if entry is None:
        return await _render(request, page, {ids[0]: w("unanswered", "entry_missing")}, 400)
    texts = await asyncio.to_thread(conv.store.unanswered_texts, ids)
    for text in texts:
        await asyncio.to_thread(conv.store.add_phrasing, entry.id, text)
    await asyncio.to_thread(conv.faq.add_phrasings, [(entry.id, t) for t in texts])
    n = await asyncio.to_thread(conv.store.resolve_unanswered, ids, "attached", entry.id)
    await common.audit(
        request, "unanswered_attached", w("unanswered", "audit_attached", entry=entry.id, n=n)
    )
    raise web.HTTPSeeOther(f"/admin/unanswered?page={page}")


async def dismiss(request: web.Request) -> web.StreamResponse:
    """``POST /admin/unanswered/dismiss``: every open question of the row needs nothing. The
    page is shown at once with 「元に戻す」 (a reload sends the same dismissal: harmless)."""
    conv = common.conversation(request)
    form = await request.post()
    page = _page_number(form.get("page"))
    questions = await asyncio.to_thread(conv.store.dismiss_unanswered, _ids(form))
    n = len(questions)
    await common.audit(request, "unanswered_dismissed", w("unanswered", "audit_dismissed", n=n))
    return await _render(request, page, undo=questions)


async def restore(request: web.Request) -> web.StreamResponse:
    """``POST /admin/unanswered/restore``: 「元に戻す」 after 「対応不要」: the questions that
    dismissal changed (signed in the form) are open again, if still dismissed."""
    conv = common.conversation(request)
    form = await request.post()
    page = _page_number(form.get("page"))
    listed = str(form.get("questions", ""))
    key, session = request.app[common.secret_key], common.session(request)
    if not auth.check_signed(key, session, "undo:" + listed, str(form.get("sig", ""))):
        raise web.HTTPSeeOther(f"/admin/unanswered?page={page}")  # not ours: nothing changes
    questions = [int(x) for x in listed.split(",") if x.isascii() and x.isdecimal()]
    n = await asyncio.to_thread(conv.store.reopen_unanswered, questions)
    await common.audit(request, "unanswered_restored", w("unanswered", "audit_dismissed", n=n))
    raise web.HTTPSeeOther(f"/admin/unanswered?page={page}")


def add_routes(app: web.Application) -> None:
    """Mount the unanswered questions page."""
    app.router.add_get("/admin/unanswered", unanswered)
    app.router.add_post("/admin/unanswered/attach", attach)
    app.router.add_post("/admin/unanswered/dismiss", dismiss)
    app.router.add_post("/admin/unanswered/restore", restore)
