"""HTML for the console: one layout, escaping everywhere, and small inline-SVG charts.

Everything a user (resident, group, staff) wrote goes through :func:`e`. No external CDN: the
CSS is served by the app, the charts are inline SVG.
"""

from __future__ import annotations

from collections.abc import Iterable
from html import escape

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


def table(headers: Iterable[str], rows: Iterable[Iterable[str]], caption: str = "") -> str:
    """A table; cells are HTML already (escape what users wrote before passing it)."""
    head = "".join(f'<th scope="col">{e(h)}</th>' for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    cap = f"<caption>{e(caption)}</caption>" if caption else ""
    return f'<div class="scroll"><table>{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def bar_chart(points: list[tuple[str, int]], label: str) -> str:
    """A small bar chart as inline SVG, with a text alternative for screen readers."""
    if not points:
        return f"<p>{e(w('layout', 'no_data'))}</p>"
    width, height, pad = 640, 180, 24
    top = max(n for _, n in points) or 1
    bar = min((width - pad) / len(points), 60.0)
    bars = []
    for i, (name, n) in enumerate(points):
        h = (height - 2 * pad) * n / top
        x = pad + i * bar
        y = height - pad - h
        bars.append(
            f'<rect x="{x + 2:.1f}" y="{y:.1f}" width="{bar - 4:.1f}" height="{h:.1f}" fill="#0b6e4f">'
            f"<title>{e(name)}: {n}</title></rect>"
            f'<text x="{x + bar / 2:.1f}" y="{height - 6}" font-size="10" text-anchor="middle">'
            f"{e(name[-5:])}</text>"
        )
    summary = w("layout", "chart_joiner").join(f"{name} {n}" for name, n in points)
    return (
        f'<figure><svg viewBox="0 0 {width} {height}" role="img" aria-label="{e(label)}: {e(summary)}">'
        + "".join(bars)
        + f"</svg><figcaption>{e(label)}</figcaption></figure>"
    )


def options(choices: Iterable[tuple[str, str]], selected: str = "") -> str:
    """``<option>`` elements."""
    return "".join(
        f'<option value="{e(v)}"{" selected" if v == selected else ""}>{e(label)}</option>'
        for v, label in choices
    )
