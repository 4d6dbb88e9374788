"""The program page ``reports/program.html``: the CRM program against the global holdout, the
message fatigue and its frequency cap, the overlapping campaigns and the month-by-month cost and
incremental profit. Self-contained (inline CSS, base64 PNG figures, no script), cleaned by
:func:`crmlab.reporting.sanitize.clean_html`.

Examples
--------
>>> write_program_page(data, "reports", lang="ko")          # doctest: +SKIP
PosixPath('reports/program.html')
"""
from __future__ import annotations

import base64
import datetime as _dt
import html
import io
from pathlib import Path
from typing import Callable

import numpy as np

from crmlab.program.narration import (LABELS, cap_line, fatigue_lines, fmt, impact_lead,
                                      metric_name, overlap_lines)
from crmlab.reporting.nowrap import keep_amounts_together
from crmlab.reporting.sanitize import clean_html

__all__ = ["program_sections", "program_page_html", "write_program_page"]

_CSS = """
body { font-family: "crmlab Hangul", system-ui, -apple-system, "Segoe UI", "Noto Sans KR",
       "Apple SD Gothic Neo", "Malgun Gothic", sans-serif; margin: 0; padding: 1.5rem clamp(.75rem, 4vw, 2rem) 3rem;
       color: #1f1f1f; word-break: keep-all; max-width: 72rem; }
h1 { font-size: 1.6rem; margin: 0 0 .3rem; } h2 { font-size: 1.2rem; margin-top: 2rem; }
p.lead { color: #5f6368; }
table { border-collapse: collapse; font-size: .85rem; font-variant-numeric: tabular-nums; }
th, td { border-bottom: 1px solid #e0e0e0; padding: .4rem .6rem; text-align: left; }
th { background: #f6f8fa; font-weight: 600; }
.ci { color: #5f6368; font-size: .8rem; } .flag { color: #b3261e; font-weight: 600; }
.table-scroll { overflow-x: auto; max-width: 100%; }
img { max-width: 100%; height: auto; } footer { margin-top: 2rem; color: #5f6368; font-size: .8rem; }
"""


def _e(x) -> str:
    return html.escape(str(x))


def _fig_png(fig) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import crmlab.plots  # noqa: F401  (selects a Hangul font for the figures)
    import matplotlib.pyplot as plt

    return plt


def program_sections(data, *, margin_rate: float = 0.3) -> dict:
    """The numbers of the page: ``impact``, ``fatigue``, ``cap``, ``overlaps`` (each None
    with a reason in ``errors`` when it cannot be computed)."""
    from crmlab.program import evaluate_program, fatigue, frequency_cap, overlaps

    out, errors = {}, {}
    for key, fn in (("impact", lambda: evaluate_program(data, margin_rate=margin_rate)),
                    ("fatigue", lambda: fatigue(data)),
                    ("overlaps", lambda: overlaps(data))):
        try:
            out[key] = fn()
        except ValueError as exc:
            out[key], errors[key] = None, str(exc)
    out["cap"] = None
    if out["impact"] is not None and out["fatigue"] is not None:
        try:
            out["cap"] = frequency_cap(data, out["fatigue"], out["impact"])
        except ValueError as exc:
            errors["cap"] = str(exc)
    out["errors"] = errors
    return out


def _boxed(html_text: str) -> str:
    """Each table in its own horizontal scroll box: the page never scrolls sideways, down to a
    500 px window."""
    return (html_text.replace("<table>", '<div class="table-scroll"><table>')
            .replace("</table>", "</table></div>"))


def _impact_table(imp, L, lang, currency) -> str:
    e = imp.to_frame()
    hs = sorted(e.horizon_days.unique())
    head = "".join(f"<th>{_e(L['months'].format(m=int(round(h / 30))))}</th>" for h in hs)
    rows = []
    for m in e.metric.unique():
        cells = []
        for h in hs:
            r = e[(e.metric == m) & (e.horizon_days == h)]
            if r.empty:
                cells.append("<td>—</td>")
                continue
            r = r.iloc[0]
            ci = ("" if m == "total_cost" else
                  f"<div class='ci'>{_e(fmt(m, r.ci_low, lang, currency))} ~ "
                  f"{_e(fmt(m, r.ci_high, lang, currency))}</div>")
            cells.append(f"<td>{_e(fmt(m, r.value, lang, currency))}{ci}</td>")
        rows.append(f"<tr><td>{_e(metric_name(m, lang))}</td>{''.join(cells)}</tr>")
    g = e[e.horizon_days == hs[-1]].iloc[0]
    return (f"<p>{_e(impact_lead(imp, lang, currency))} "
            f"{_e(L['groups'].format(n_crm=int(g.n_crm), n_holdout=int(g.n_holdout)))}</p>"
            f"<table><thead><tr><th>{_e(L['metric'])}</th>{head}</tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>")


def _fatigue_html(fat, cap, L, lang, currency) -> str:
    plt = _plt()
    e = fat.to_frame()
    rows = "".join(
        f"<tr><td>{_e(metric_name(r.outcome, lang))}</td>"
        f"<td>{_e(L['days'].format(d=r.window_days))}</td>"
        f"<td>{_e(fmt(r.outcome, r.per_message, lang))}<div class='ci'>"
        f"{_e(fmt(r.outcome, r.ci_low, lang))} ~ {_e(fmt(r.outcome, r.ci_high, lang))}</div></td>"
        f"<td>{_e(fmt(r.outcome, r.ols, lang))}</td></tr>" for r in e.itertuples())
    parts = [f"<p>{_e(L['fatigue_lead'])}</p>",
             "<ul>" + "".join(f"<li>{_e(s)}</li>" for s in fatigue_lines(fat, lang)) + "</ul>",
             f"<table><thead><tr><th>{_e(L['outcome'])}</th><th>{_e(L['window'])}</th>"
             f"<th>{_e(L['per_message'])}</th><th>{_e(L['plain'])}</th></tr></thead>"
             f"<tbody>{rows}</tbody></table>"]
    c = fat.curves
    c = c[c.window_days == c.window_days.max()]
    if not c.empty:
        fig, ax = plt.subplots(figsize=(7, 3.6))
        for o, g in c.groupby("outcome"):
            ax.plot(g.messages, g.rate, marker="o", ms=3, label=metric_name(o, lang))
            ax.fill_between(g.messages, g.ci_low, g.ci_high, alpha=0.15)
        ax.set_xlabel(L["messages_axis"])
        ax.set_ylabel(L["rate_axis"])
        ax.set_title(L["fig_fatigue"])
        ax.legend(fontsize=8)
        parts.append(f"<figure><img alt='{_e(L['fig_fatigue'])}' src='{_fig_png(fig)}'>"
                     "</figure>")
    if cap is not None:
        t = cap.to_frame()
        crow = "".join(
            f"<tr><td>{_e(L['no_cap'] if r.cap != r.cap or r.cap is None else int(r.cap))}</td>"
            f"<td>{r.messages_per_customer:.2f}</td>"
            f"<td>{_e(fmt('profit_per_customer', r.profit_per_customer, lang, currency))}"
            f"<div class='ci'>{_e(fmt('profit_per_customer', r.ci_low, lang, currency))} ~ "
            f"{_e(fmt('profit_per_customer', r.ci_high, lang, currency))}</div></td>"
            f"<td>{100 * r.share_best:.0f}%</td></tr>" for r in t.itertuples())
        parts.append(f"<h3>{_e(L['cap'])}</h3><p><strong>{_e(cap_line(cap, lang))}</strong></p>"
                     f"<table><thead><tr><th>{_e(L['cap_col'])}</th><th>{_e(L['msgs'])}</th>"
                     f"<th>{_e(L['profit'])}</th><th>{_e(L['best_share'])}</th></tr></thead>"
                     f"<tbody>{crow}</tbody></table>")
    return "".join(parts)


def _overlap_html(ov, names, L, lang, currency) -> str:
    df = ov.to_frame()
    if df.empty:
        return f"<p>{_e(L['no_overlap'])}</p>"
    rows = []
    for r in df.itertuples():
        pair = f"{names.get(r.campaign_a, r.campaign_a)} × {names.get(r.campaign_b, r.campaign_b)}"
        flag = (f"<span class='flag'>{_e(L['flagged'])}</span>" if r.flagged else _e(L["none"]))
        rows.append(
            f"<tr><td>{_e(pair)}</td><td>{_e(metric_name(r.outcome, lang))}</td>"
            f"<td>{_e(fmt(r.outcome, r.effect_a_in_b, lang, currency))}</td>"
            f"<td>{_e(fmt(r.outcome, r.effect_a_in_b_control, lang, currency))}</td>"
            f"<td>{_e(fmt(r.outcome, r.interaction, lang, currency))}<div class='ci'>"
            f"{_e(fmt(r.outcome, r.ci_low, lang, currency))} ~ "
            f"{_e(fmt(r.outcome, r.ci_high, lang, currency))}</div></td>"
            f"<td>{r.p_holm:.3f}</td><td>{flag}</td></tr>")
    lines = overlap_lines(ov, names, lang)
    return (f"<p>{_e(L['overlap_lead'])}</p>"
            + ("<ul>" + "".join(f"<li>{_e(s)}</li>" for s in lines) + "</ul>" if lines else "")
            + f"<table><thead><tr><th>{_e(L['pair'])}</th><th>{_e(L['outcome'])}</th>"
              f"<th>{_e(L['in_b'])}</th><th>{_e(L['in_b0'])}</th><th>{_e(L['interaction'])}</th>"
              f"<th>{_e(L['p_holm'])}</th><th>{_e(L['flag'])}</th></tr></thead>"
              f"<tbody>{''.join(rows)}</tbody></table>")


def _monthly_html(imp, L, lang, currency) -> str:
    plt = _plt()
    m = imp.monthly
    rows = "".join(
        f"<tr><td>{int(r.month)}</td><td>{_e(fmt('cost_per_customer', r.cost_per_customer, lang, currency))}</td>"
        f"<td>{_e(fmt('revenue', r.incremental_revenue, lang, currency))}</td>"
        f"<td>{_e(fmt('revenue', r.incremental_profit, lang, currency))}<div class='ci'>"
        f"{_e(fmt('revenue', r.incremental_profit_ci_low, lang, currency))} ~ "
        f"{_e(fmt('revenue', r.incremental_profit_ci_high, lang, currency))}</div></td>"
        f"<td>{_e(fmt('revenue', r.cumulative_profit, lang, currency))}</td></tr>"
        for r in m.itertuples())
    fig, ax = plt.subplots(figsize=(7, 3.2))
    ax.bar(m.month, m.incremental_profit, color="#9ecae1", label=L["inc_profit"])
    ax.plot(m.month, np.cumsum(m.incremental_profit), color="#08519c", marker="o",
            label=L["cum_profit"])
    ax.axhline(0, color="#999", lw=0.8)
    ax.set_xlabel(L["month_axis"])
    ax.set_title(L["fig_monthly"])
    ax.legend(fontsize=8)
    return (f"<table><thead><tr><th>{_e(L['month'])}</th><th>{_e(L['cost'])}</th>"
            f"<th>{_e(L['inc_rev'])}</th><th>{_e(L['inc_profit'])}</th>"
            f"<th>{_e(L['cum_profit'])}</th></tr></thead><tbody>{rows}</tbody></table>"
            f"<figure><img alt='{_e(L['fig_monthly'])}' src='{_fig_png(fig)}'></figure>")


def program_page_html(data, lang: str = "en", currency: str = "KRW",
                      sections: dict | None = None,
                      font_css: Callable[[str], str] | None = None) -> str:
    """The page as a cleaned HTML string. ``font_css(text)`` may return a ``<style>`` with an
    embedded font for the page's text (the runner passes its Hangul subset)."""
    if lang not in LABELS:
        raise ValueError(f"program page: language must be one of {sorted(LABELS)}, got {lang!r}")
    L = LABELS[lang]
    s = sections if sections is not None else program_sections(data)
    names = {}
    if data.campaigns is not None:
        c = data.campaigns.select("campaign_id", "name").to_pandas()
        names = {r.campaign_id: (r.name if isinstance(r.name, str) and r.name else
                                 str(r.campaign_id)) for r in c.itertuples()}
    err = s.get("errors", {})

    def missing(key):
        return f"<p>{_e(L['unavailable'].format(why=err.get(key, '')))}</p>"

    body = [f"<h1>{_e(L['page_title'])}</h1>", f"<p class='lead'>{_e(L['lead'])} "
            f"<a href='index.html'>{_e(L['portfolio'])}</a></p>",
            f"<h2>{_e(L['impact'])}</h2>",
            _impact_table(s["impact"], L, lang, currency) if s["impact"] is not None
            else missing("impact"),
            f"<h2>{_e(L['fatigue'])}</h2>",
            _fatigue_html(s["fatigue"], s.get("cap"), L, lang, currency)
            if s["fatigue"] is not None else missing("fatigue"),
            f"<h2>{_e(L['overlaps'])}</h2>",
            _overlap_html(s["overlaps"], names, L, lang, currency)
            if s["overlaps"] is not None else missing("overlaps"),
            f"<h2>{_e(L['monthly'])}</h2>",
            _monthly_html(s["impact"], L, lang, currency) if s["impact"] is not None
            else missing("impact")]
    generated = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    body.append(f"<footer>{_e(L['footer'].format(generated=generated))}</footer>")
    page = (f"<!DOCTYPE html><html lang='{lang}'><head><meta charset='utf-8'>"
            f"<meta name='viewport' content='width=device-width, initial-scale=1.0'>"
            f"<title>{_e(L['page_title'])}</title><style>{_CSS}</style></head>"
            f"<body><main>{_boxed(''.join(body))}</main></body></html>")
    page = keep_amounts_together(page)
    if font_css is not None:
        css = font_css(page)
        if css:
            page = page.replace("</head>", css + "</head>", 1)
    return clean_html(page)


def write_program_page(data, out, lang: str = "en", currency: str = "KRW",
                       font_css: Callable[[str], str] | None = None) -> Path:
    """Write ``<out>/program.html``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "program.html"
    tmp = path.with_suffix(".html.tmp")
    tmp.write_text(program_page_html(data, lang, currency, font_css=font_css), encoding="utf-8")
    tmp.replace(path)
    return path
