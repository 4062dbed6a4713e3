"""Server-rendered HTML of the console's pages: every value escaped, no script but the
playground's own (static/playground.js, served from this package), nothing from a CDN."""

from __future__ import annotations

import html
from urllib.parse import quote

from shared.charts import STYLE
from shared.taxonomy import Taxonomy

CSS = STYLE + (
    "nav{display:flex;gap:16px;align-items:center;border-bottom:1px solid #ddd;padding-bottom:8px;margin-bottom:12px}"
    "nav a{text-decoration:none;color:#3366cc}nav form{margin-left:auto}td.l,th.l{text-align:left}"
    ".cols{display:grid;grid-template-columns:repeat(3,1fr);gap:12px}.col{border:1px solid #ddd;border-radius:6px;"
    "padding:8px}.answer{white-space:pre-wrap;min-height:4em;background:#fafafa;padding:6px;font-size:14px}"
    ".facts{font-size:12px;color:#333}.msg{padding:6px 10px;background:#eef5ff;border-radius:4px}"
    ".err{padding:6px 10px;background:#fde8e8;border-radius:4px}fieldset{margin:6px 0}textarea{width:100%}"
    "label{margin-right:10px}.text{white-space:pre-wrap;background:#fafafa;padding:8px;border:1px solid #eee}"
)
PAGES = [("/playground", "Playground"), ("/review", "Review queue"), ("/evaluations", "Evaluations"),
         ("/costs", "Costs and quality")]  # fmt: skip


def e(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def csrf_field(token: str) -> str:
    return f'<input type="hidden" name="csrf" value="{e(token)}">'


def layout(title: str, body: str, user: str | None = None, csrf: str | None = None, script: str = "") -> str:
    nav = ""
    if user:
        links = "".join(f'<a href="{p}">{e(t)}</a>' for p, t in PAGES)
        nav = (f'<nav><b>Ladle console</b>{links}<form method="post" action="/logout">{csrf_field(csrf or "")}'
               f'<span>{e(user)}</span> <button type="submit">Sign out</button></form></nav>')  # fmt: skip
    tag = f'<script src="/static/{e(script)}" defer></script>' if script else ""
    meta = f'<meta name="csrf-token" content="{e(csrf)}">' if csrf else ""
    return (f'<!doctype html><html><head><meta charset="utf-8"><title>{e(title)} · Ladle console</title>{meta}'
            f"<style>{CSS}</style>{tag}</head><body>{nav}<h1>{e(title)}</h1>{body}</body></html>\n")  # fmt: skip


def notice(text: str | None, error: bool = False) -> str:
    return f'<p class="{"err" if error else "msg"}" role="status">{e(text)}</p>' if text else ""


def login(next_path: str, token: str, error: str | None = None) -> str:
    body = (f'{notice(error, True)}<form method="post" action="/login">{csrf_field(token)}'
            f'<input type="hidden" name="next" value="{e(next_path)}">'
            '<p><label>Account <input name="user" autocomplete="username" required></label></p>'
            '<p><label>Password <input name="password" type="password" autocomplete="current-password" required>'
            '</label></p><p><button type="submit">Sign in</button></p></form>'
            "<p>Sign in with an analyst account of the sink's users file (deploy/sink/users.yaml).</p>")  # fmt: skip
    return layout("Sign in", body)


def home(user: str, csrf: str) -> str:
    items = "".join(f'<li><a href="{p}">{e(t)}</a></li>' for p, t in PAGES)
    return layout("Ladle console", f"<ul>{items}</ul>", user, csrf)


# -- review ---------------------------------------------------------------------------


def _output(output: dict) -> str:
    return "; ".join(f"{k}: {', '.join(map(str, v)) if isinstance(v, list) else v}" for k, v in output.items()) or "–"


def review_list(user: str, csrf: str, pending: list, decided: list, message: str | None = None) -> str:
    rows = "".join(
        f'<tr><td class=l><a href="/review/{quote(i.id)}">{e(i.guarded.result.item_id)}</a></td>'
        f"<td class=l>{e(i.guarded.result.task)}</td><td class=l>{e(', '.join(c.check for c in i.failed))}</td>"
        f"<td class=l>{e(_output(i.guarded.result.output))}</td><td>{e(f'{i.guarded.occurred_at:%Y-%m-%d %H:%M}')}</td></tr>"
        for i in pending
    )
    table = (f"<table><thead><tr><th class=l>item</th><th class=l>task</th><th class=l>failed checks</th>"
             f"<th class=l>proposed</th><th>routed at (UTC)</th></tr></thead><tbody>{rows}</tbody></table>"
             if pending else '<p class="empty">Nothing waits for review.</p>')  # fmt: skip
    done = "".join(
        f'<tr><td class=l><a href="/review/{quote(d.result_event_id)}">{e(d.item_id)}</a></td><td class=l>{e(d.action)}'
        f"</td><td class=l>{e(d.reviewer)}</td><td class=l>{e(', '.join(d.changed_fields()))}</td>"
        f"<td>{e(f'{d.decided_at:%Y-%m-%d %H:%M}')}</td></tr>"
        for _, d in decided
    )
    recent = (f"<h2>Decided</h2><table><thead><tr><th class=l>item</th><th class=l>action</th><th class=l>reviewer</th>"
              f"<th class=l>changed</th><th>decided at (UTC)</th></tr></thead><tbody>{done}</tbody></table>"
              if decided else "")  # fmt: skip
    body = f"{notice(message)}<p>{len(pending)} item(s) wait for a person.</p>{table}{recent}"
    return layout("Review queue", body, user, csrf)


def _picker(taxonomy: Taxonomy, output: dict) -> str:
    out = []
    for name, f in taxonomy.fields.items():
        current = output.get(name)
        if f.kind == "one":
            opts = "".join(
                f'<option value="{e(v)}"{" selected" if v == current else ""}>{e(v)}</option>' for v in f.values
            )
            blank = "" if current in f.values else '<option value="" selected>–</option>'
            out.append(f'<fieldset><legend>{e(name)}</legend><select name="f.{e(name)}" aria-label="{e(name)}">'
                       f"{blank}{opts}</select></fieldset>")  # fmt: skip
        else:
            chosen = set(current if isinstance(current, list) else [current] if current else [])
            boxes = "".join(
                f'<label><input type="checkbox" name="f.{e(name)}" value="{e(v)}"{" checked" if v in chosen else ""}>'
                f" {e(v)}</label>"
                for v in f.values
            )
            limit = f" (at most {f.max_items})" if f.max_items else ""
            out.append(f"<fieldset><legend>{e(name)}{limit}</legend>{boxes}</fieldset>")
    return "".join(out)


def review_item(user: str, csrf: str, item, decision, taxonomy: Taxonomy, message: str | None = None,
                error: str | None = None) -> str:  # fmt: skip
    g = item.guarded
    r = g.result
    checks = "".join(
        f"<tr><td class=l>{e(c.check)}</td><td>{'passed' if c.passed else 'failed'}</td><td>{e(c.score)}</td>"
        f"<td class=l>{e(c.action)}</td><td class=l>{e(c.detail)}</td></tr>"
        for c in g.verdict.checks
    )
    facts = (f"<p>Item <b>{e(r.item_id)}</b> v{e(r.item_version)} · task {e(r.task)} · {e(r.engine)}/{e(r.model)}"
             f"{' · prompt ' + e(r.prompt.name) + '@' + e(r.prompt.version) if r.prompt else ''} · policy "
             f"{e(g.verdict.policy)} {e(g.verdict.policy_version)} → {e(g.verdict.action)}</p>")  # fmt: skip
    body = (f"{notice(message)}{notice(error, True)}{facts}<h2>Item text (as the guardrails left it)</h2>"
            f'<div class="text" id="item-text">{e(r.item_text) or "<i>no text</i>"}</div>'
            f"<h2>Checks</h2><table><thead><tr><th class=l>check</th><th>outcome</th><th>score</th><th class=l>action</th>"
            f"<th class=l>detail</th></tr></thead><tbody>{checks}</tbody></table>"
            f'<h2>Proposed</h2><p id="proposed">{e(_output(r.output))}</p>')  # fmt: skip
    if decision is not None:
        body += (f'<h2>Decision</h2><p id="decision">{e(decision.action)} by <b>{e(decision.reviewer)}</b> at '
                 f"{e(f'{decision.decided_at:%Y-%m-%d %H:%M:%S}')} UTC → {e(decision.route)}</p>"
                 f"<p>After: {e(_output(decision.after))}</p>")  # fmt: skip
    else:
        body += (f'<h2>Decide</h2><form method="post" action="/review/{quote(item.id)}">{csrf_field(csrf)}'
                 f"{_picker(taxonomy, r.output)}"
                 '<p><label>Note <input name="note" size="60"></label></p>'
                 '<p><button type="submit" name="action" value="accept">Accept as proposed</button> '
                 '<button type="submit" name="action" value="correct">Save correction</button> '
                 '<button type="submit" name="action" value="reject">Reject</button></p></form>')  # fmt: skip
    return layout(f"Review {r.item_id}", body + '<p><a href="/review">Back to the queue</a></p>', user, csrf)


# -- playground -----------------------------------------------------------------------


def playground(user: str, csrf: str, prompts: list[tuple[str, int]], chosen: dict, message: str | None = None,
               error: str | None = None) -> str:  # fmt: skip
    """``chosen``: models (3), system, message, prompt name/version and variables for the form's values."""
    models = chosen.get("models") or ["fast", "", ""]
    cols = "".join(
        f'<div class="col" data-col="{i}"><label>Model or alias <input name="model{i}" value="{e(m)}" '
        f'placeholder="e.g. fast"></label><div class="answer" id="answer{i}"></div>'
        f'<div class="facts" id="facts{i}"></div></div>'
        for i, m in enumerate(models[:3])
    )
    options = "".join(
        f'<option value="{e(n)}@{v}"{" selected" if chosen.get("prompt") == f"{n}@{v}" else ""}>{e(n)}@{v}</option>'
        for n, v in prompts
    )
    variables = "".join(
        f'<label>{e(k)} <input name="var.{e(k)}" value="{e(v)}"></label>'
        for k, v in (chosen.get("variables") or {}).items()
    )
    body = (
        f"{notice(message)}{notice(error, True)}"
        f'<form method="get" action="/playground"><label>Start from a prompt version <select name="prompt">'
        f'<option value="">–</option>{options}</select></label> {variables} <button type="submit">Fill in</button></form>'
        f'<form id="playground" method="post" action="/playground/save">{csrf_field(csrf)}'
        '<p><label>Team key (the gateway\'s) <input name="key" type="password" autocomplete="off" size="30"></label> '
        '<label>max tokens <input name="max_tokens" type="number" value="48" min="1" max="2048"></label> '
        '<label>temperature <input name="temperature" type="number" value="0" step="0.1" min="0" max="2"></label></p>'
        f'<p><label>System<textarea name="system" rows="2">{e(chosen.get("system"))}</textarea></label></p>'
        f'<p><label>User message<textarea name="message" rows="4" required>{e(chosen.get("message"))}</textarea></label></p>'
        f'<div class="cols">{cols}</div>'
        '<p><button type="button" id="run">Run side by side</button></p>'
        "<fieldset><legend>Save the message as a new prompt version (never moves production)</legend>"
        f'<label>Prompt name <input name="name" value="{e(chosen.get("name"))}" pattern="[A-Za-z0-9_.\\-]+"></label> '
        '<button type="submit">Save as prompt version</button></fieldset></form>'
    )
    return layout("Playground", body, user, csrf, script="playground.js")
