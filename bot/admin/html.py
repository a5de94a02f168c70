"""HTML for the console: one layout, escaping everywhere, tables that read on a phone, bar
charts, form fields with their errors, paging and error pages.

Everything a user (resident, group, staff) wrote goes through :func:`e`. No external CDN: the
CSS is served by the app, the charts are inline SVG.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping
from html import escape
from urllib.parse import urlencode, urlsplit

from bot.admin.words import w

NAV = [
    ("/admin/", w("nav", "dashboard")),
    ("/admin/groups", w("nav", "groups")),
    ("/admin/calls", w("nav", "calls")),
    ("/admin/unanswered", w("nav", "unanswered")),
    ("/admin/broadcast", w("nav", "broadcast")),
    ("/admin/deliveries", w("nav", "deliveries")),
    ("/admin/staff", w("nav", "staff")),
    ("/admin/audit", w("nav", "audit")),
]


def e(value: object) -> str:
    """Escape for HTML text and attributes."""
    return escape(str(value), quote=True)


def page(title: str, body: str, *, user: str | None = None, csrf: str = "") -> str:
    """A whole page."""
    nav = ""
    if user:
        links = "".join(f'<a href="{href}">{e(label)}</a>' for href, label in NAV)
        nav = (
            f'<nav aria-label="{e(w("layout", "menu"))}">{links}'
            f'<form method="post" action="/admin/logout" class="inline">{csrf_field(csrf)}'
            f'<button type="submit" class="link">{e(w("layout", "logout", user=user))}</button>'
            "</form></nav>"
        )
    return (
        '<!doctype html><html lang="ja"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{e(w('layout', 'title', title=title))}</title>"
        '<link rel="stylesheet" href="/static/admin.css"></head><body>'
        f"<header><strong>{e(w('layout', 'header'))}</strong>{nav}</header>"
        f'<main id="main"><h1>{e(title)}</h1>{body}</main></body></html>'
    )


def sentence(template: str, **html: str) -> str:
    """One of the console's sentences (``w(section, key)`` unfilled), escaped, with HTML that
    is escaped already (a bold count, a link) in its placeholders."""
    return e(template).format(**html)


def csrf_field(token: str) -> str:
    """The hidden CSRF input every form carries."""
    return f'<input type="hidden" name="csrf" value="{e(token)}">'


_TAG = re.compile(r"<[^>]*>")
SHORT_CELL = 12  # characters: a date, a state, a count is never broken over two lines


def _short(cell: str) -> str:
    """``class="nowrap"`` for a short plain cell (「受付中」「2026年12月4日」): at 1280 px they
    wrapped to 「受付/中」 while long cells had room."""
    text = html.unescape(_TAG.sub("", cell))
    return ' class="nowrap"' if 0 < len(text) <= SHORT_CELL and "<form" not in cell else ""


def table(headers: Iterable[str], rows: Iterable[Iterable[str]], caption: str = "") -> str:
    """A table; cells are HTML already (escape what users wrote before passing it).

    On a phone (admin.css) each row becomes a block and each cell shows its column's name
    from ``data-label`` above its value, so no column is squeezed to a character's width."""
    names = list(headers)
    head = "".join(f'<th scope="col">{e(h)}</th>' for h in names)
    labels = [f' data-label="{e(h)}"' if h else "" for h in names]
    body = "".join(
        "<tr>"
        + "".join(
            f"<td{labels[i] if i < len(labels) else ''}{_short(c)}>{c}</td>"
            for i, c in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    cap = f"<caption>{e(caption)}</caption>" if caption else ""
    return (
        f'<div class="scroll"><table class="stack">{cap}<thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table></div>"
    )


def bar_chart(points: list[tuple[str, int]], label: str) -> str:
    """A horizontal bar chart: one row per point with its whole label (wrapped, never cut),
    an inline-SVG bar and the number. It is a table with a caption, so a screen reader reads
    each label with its number; the bars are decoration (``aria-hidden``)."""
    if not points:
        return f"<p>{e(w('layout', 'no_data'))}</p>"
    top = max(n for _, n in points) or 1
    rows = "".join(
        f'<tr><th scope="row">{e(name)}</th>'
        '<td class="bar"><svg viewBox="0 0 100 10" preserveAspectRatio="none" '
        'aria-hidden="true" focusable="false">'
        f'<rect width="{max(100 * n / top, 0.5 if n else 0):.1f}" height="10"></rect></svg></td>'
        f'<td class="num">{n:,}</td></tr>'
        for name, n in points
    )
    return (
        f'<figure class="chart"><table class="bars"><caption>{e(label)}</caption>'
        f'<thead><tr><th scope="col">{e(w("layout", "chart_item"))}</th>'
        f'<th scope="col"><span class="visually-hidden">{e(w("layout", "chart_bar"))}</span></th>'
        f'<th scope="col" class="num">{e(w("layout", "chart_value"))}</th></tr></thead>'
        f"<tbody>{rows}</tbody></table></figure>"
    )


def field(label: str, control: str, *, id: str, error: str = "", hint: str = "") -> str:
    """A form control with its label, and its error (or hint) right beside it.

    ``control`` is the control's HTML (``<input …>``, ``<select …>…</select>``,
    ``<textarea …>…</textarea>``) without an ``id``: its first tag gets ``id``, and with an
    error ``aria-invalid`` and ``aria-describedby`` pointing at the message, so a screen
    reader reads the error with the field and the eye finds it next to it."""
    return (
        f'<div class="field{" invalid" if error else ""}">'
        f'<label for="{e(id)}">{e(label)}</label>'
        + _described(control, id, error, hint)
        + _note(id, error, hint)
        + "</div>"
    )


def fieldset(legend: str, controls: str, *, id: str, error: str = "") -> str:
    """A group of checkboxes or radio buttons (each labelled already in ``controls``) with
    one error beside the group (``id`` names it)."""
    attrs = f' aria-describedby="{e(id)}-error"' if error else ""
    return (
        f'<fieldset id="{e(id)}" class="field{" invalid" if error else ""}"{attrs}>'
        f"<legend>{e(legend)}</legend>{controls}{_note(id, error, '')}</fieldset>"
    )


def _described(control: str, id: str, error: str, hint: str) -> str:
    extra = f' id="{e(id)}"'
    if error:
        extra += f' aria-invalid="true" aria-describedby="{e(id)}-error"'
    elif hint:
        extra += f' aria-describedby="{e(id)}-hint"'
    return re.sub(r"^\s*<([a-zA-Z]+)", lambda m: f"<{m.group(1)}{extra}", control, count=1)


def _note(id: str, error: str, hint: str) -> str:
    if error:
        return f'<p class="error" id="{e(id)}-error" role="alert">{e(error)}</p>'
    if hint:
        return f'<p class="hint" id="{e(id)}-hint">{e(hint)}</p>'
    return ""


def back_to(referer: str, host: str, here: str = "") -> str:
    """Where an error page's 「戻る」 leads: the console page the browser came from (the
    Referer, when it is a page of this console on this host and not this one), else the
    dashboard. A plain link: the console's CSP runs no ``javascript:``."""
    try:
        came = urlsplit(referer)
    except ValueError:
        return "/admin/"
    path = came.path + (f"?{came.query}" if came.query else "")
    same_site = came.netloc == host and came.scheme in ("http", "https")
    console = came.path.startswith("/admin/") and came.path != "/admin/login"
    if same_site and console and path != here:
        return path
    return "/admin/"


def error_body(message: str, back: str) -> str:
    """An error page's body: what went wrong and a 「戻る」 link (see :func:`back_to`)."""
    return (
        f'<p class="error" role="alert">{e(message)}</p>'
        f'<p><a class="back" href="{e(back)}">{e(w("layout", "back"))}</a></p>'
    )


def pager(path: str, params: Mapping[str, str], page: int, pages: int) -> str:
    """Links to the previous and next page (``page`` counts from 1), keeping the filters."""
    if pages <= 1:
        return ""

    def href(n: int) -> str:
        kept = {k: v for k, v in params.items() if v}
        return e(f"{path}?{urlencode({**kept, 'page': str(n)})}")

    prev = (
        f'<a rel="prev" href="{href(page - 1)}">{e(w("layout", "prev"))}</a>' if page > 1 else ""
    )
    following = (
        f'<a rel="next" href="{href(page + 1)}">{e(w("layout", "next"))}</a>'
        if page < pages
        else ""
    )
    where = e(w("layout", "page_of", page=page, pages=pages))
    return (
        f'<nav class="pager" aria-label="{e(w("layout", "pages"))}">'
        f'{prev}<span aria-current="page">{where}</span>{following}</nav>'
    )


def options(choices: Iterable[tuple[str, str]], selected: str = "", placeholder: str = "") -> str:
    """``<option>`` elements; with ``placeholder`` an empty first one (「選んでください」),
    chosen unless ``selected`` names another, so nothing is picked for the user."""
    first = (
        f'<option value=""{" selected" if not selected else ""}>{e(placeholder)}</option>'
        if placeholder
        else ""
    )
    return first + "".join(
        f'<option value="{e(v)}"{" selected" if v == selected else ""}>{e(label)}</option>'
        for v, label in choices
    )
