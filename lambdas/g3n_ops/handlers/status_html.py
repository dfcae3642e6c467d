"""The public status page as HTML: server-rendered, no script, every value escaped.

Operators write descriptions and updates; the page treats them as untrusted text. ``_e`` is the
only way a value reaches the markup, and the Content-Security-Policy (no script at all, only the
page's own stylesheet) is the second line of defence.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime
from html import escape

from g3n_ops.api_models import PublicActiveWindow, PublicScope, PublicStatus

TITLE = "g3nretailstack status"

# Dark text on light backgrounds, each pair above WCAG AA's 4.5:1; readable from 320 px up.
STYLE = """
*{box-sizing:border-box}
body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;
color:#1b1b1b;background:#fff}
.wrap{max-width:46rem;margin:0 auto;padding:1rem}
header{border-bottom:1px solid #d0d0d0}
h1{font-size:1.6rem;margin:.5rem 0}
h2{font-size:1.3rem;margin:1.5rem 0 .5rem}
h3{font-size:1.1rem;margin:1rem 0 .25rem}
.banner{border-left:.4rem solid #1a7f37;background:#eefbf1;padding:.75rem 1rem;border-radius:.25rem}
.banner.maintenance{border-color:#9a4d00;background:#fff4e5}
.banner h2{margin-top:0}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem;margin:.5rem 0}
dt{font-weight:600}
dd{margin:0}
ol,ul{padding-left:1.25rem}
li{margin:.4rem 0;overflow-wrap:anywhere}
p{overflow-wrap:anywhere}
.muted{color:#4a4a4a}
a{color:#0b57d0}
.skip{position:absolute;left:-999px}
.skip:focus{left:1rem;top:1rem;background:#fff;padding:.5rem}
footer{border-top:1px solid #d0d0d0;margin-top:2rem;font-size:.9rem}
""".strip()
_STYLE_HASH = base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()
CONTENT_SECURITY_POLICY = (
    f"default-src 'none'; style-src 'sha256-{_STYLE_HASH}'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def _time(timestamp: str | None) -> str:
    """``<time>`` with the machine-readable value and a short human one, in UTC."""
    if not timestamp:
        return "—"
    try:
        shown = datetime.fromisoformat(timestamp).strftime("%a %d %b %Y, %H:%M UTC")
    except ValueError:
        shown = timestamp
    return f'<time datetime="{_e(timestamp)}">{_e(shown)}</time>'


def _kind(window: PublicScope) -> str:
    return "Read-only maintenance" if window.mode == "read-only" else "Maintenance"


def _scope_rows(window: PublicScope) -> list[tuple[str, str]]:
    """Which services a window affects and, when read-only, what still answers."""
    affected = ", ".join(_e(code) for code in window.services) if window.services else "All services"
    rows = [("Affected services", affected)]
    if window.mode == "read-only":
        methods = ", ".join(_e(method) for method in window.allowMethods or [])
        rows.append(("Still answering", f"read-only maintenance: {methods} requests go on"))
    return rows


def _rows(rows: list[tuple[str, str]]) -> str:
    return "<dl>" + "".join(f"<dt>{label}</dt><dd>{value}</dd>" for label, value in rows) + "</dl>"


def _active(window: PublicActiveWindow) -> str:
    rows = [("Started", _time(window.startedAt)), ("Expected end", _time(window.expectedEnd))]
    rows += _scope_rows(window)
    if window.overrunning:
        rows.append(("Note", "Taking longer than planned"))
    parts = [
        '<section class="banner maintenance" aria-labelledby="now">',
        f'<h2 id="now">{_kind(window)} in progress</h2>',
        f'<p class="description">{_e(window.description)}</p>',
        _rows(rows),
    ]
    effect = window.effect
    if effect and (effect.allBlockedAt or effect.notEffective or effect.effectiveAt):
        parts.append('<h3 id="effect">Effect</h3>')
        which = "affected services" if window.services else "services"
        if effect.allBlockedAt:
            parts.append(f"<p>All {which} paused since {_time(effect.allBlockedAt)}.</p>")
        elif effect.effectiveAt:
            parts.append(f"<p>{len(effect.effectiveAt)} services paused so far.</p>")
        if effect.notEffective:
            codes = ", ".join(_e(code) for code in effect.notEffective)
            parts.append(f"<p>Still answering normally: {codes}.</p>")
        if effect.othersUnaffected:
            parts.append(f"<p>Other services confirmed unaffected at {_time(effect.othersUnaffected)}.</p>")
        if effect.collateral:
            codes = ", ".join(_e(code) for code in effect.collateral)
            parts.append(f"<p>Also affected, though outside this maintenance: {codes}.</p>")
    parts.append('<h3 id="updates">Updates</h3>')
    if window.updates:
        items = "".join(
            f'<li>{_time(update.at)}<p class="update">{_e(update.text)}</p></li>' for update in window.updates
        )
        parts.append(f'<ol class="updates" reversed aria-labelledby="updates">{items}</ol>')
    else:
        parts.append('<p class="muted">No updates yet.</p>')
    parts.append("</section>")
    return "".join(parts)


def _operational() -> str:
    return (
        '<section class="banner" aria-labelledby="now"><h2 id="now">All services operating normally</h2>'
        "<p>No maintenance is in progress.</p></section>"
    )


def _scheduled(status: PublicStatus) -> str:
    head = '<section aria-labelledby="scheduled"><h2 id="scheduled">Scheduled maintenance</h2>'
    if not status.scheduled:
        return head + '<p class="muted">No maintenance scheduled in the next 7 days.</p></section>'
    items = "".join(
        f"<li><p>{_e(window.description)}</p>"
        + _rows(
            [
                ("Starts", _time(window.start)),
                ("Expected end", _time(window.expectedEnd)),
                ("Kind", _kind(window)),
                *_scope_rows(window),
            ]
        )
        + "</li>"
        for window in status.scheduled
    )
    return head + f"<ul>{items}</ul></section>"


def _ended(status: PublicStatus) -> str:
    head = '<section aria-labelledby="past"><h2 id="past">Recent maintenance</h2>'
    if not status.recentlyEnded:
        return head + '<p class="muted">No maintenance has ended yet.</p></section>'
    items = []
    for window in status.recentlyEnded:
        closing = f"<p>{_e(window.endMessage)}</p>" if window.endMessage else ""
        items.append(
            f"<li><p>{_e(window.description)}</p><dl><dt>Started</dt><dd>{_time(window.startedAt)}</dd>"
            f"<dt>Ended</dt><dd>{_time(window.endedAt)}</dd></dl>{closing}</li>"
        )
    return head + f"<ul>{''.join(items)}</ul></section>"


def render(status: PublicStatus) -> str:
    refresh = ""
    note = ""
    if status.refreshSeconds:
        seconds = int(status.refreshSeconds)
        refresh = f'<meta http-equiv="refresh" content="{seconds}">'
        every = "second" if seconds == 1 else f"{seconds} seconds"
        note = (
            f"<p>This page reloads itself every {every} while maintenance is in progress or about to "
            "start.</p>"
        )
    headline = f"{_kind(status.active)} in progress" if status.active else "All services operating normally"
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"{refresh}<title>{_e(headline)} · {TITLE}</title><style>{STYLE}</style></head>"
        '<body><a class="skip" href="#main">Skip to content</a>'
        f'<header><div class="wrap"><h1>{TITLE}</h1></div></header>'
        '<main id="main"><div class="wrap">'
        + (_active(status.active) if status.active else _operational())
        + _scheduled(status)
        + _ended(status)
        + "</div></main>"
        f'<footer><div class="wrap"><p>Updated {_time(status.generatedAt)}.</p>{note}</div></footer>'
        "</body></html>"
    )
