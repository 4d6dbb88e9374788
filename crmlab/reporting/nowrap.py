"""Amounts that never break across lines on a finished page.

A browser may break a line between a sign and a currency symbol (``−`` | ``₩1,234``), inside
Korean won (``5,740만`` | ``원``) or between a number and its unit (``+1.2`` | ``pp``): the
Unicode line-breaking rules allow it, and a narrow column or a phone takes the chance.
:func:`keep_amounts_together` wraps every such amount in the text of a page in
``<span class="crmlab-nowrap">`` (``white-space: nowrap``; ``span`` and ``class`` are in the
sanitizer's allowlist, :mod:`crmlab.reporting.sanitize`) and adds that one rule to the page's
``<head>``. Only text between tags changes — never an attribute, a ``<style>``, a ``<script>``
or the ``<title>`` — and the visible text stays the same characters, so copying an amount from
the page gives the amount. The numbers in ``results.json`` are not touched: this is a page pass.

Examples
--------
>>> keep_amounts_together("<p>Profit −₩1,234 (−₩9,000 ~ +₩4,200)</p>")
'<p>Profit <span class="crmlab-nowrap">−₩1,234</span> (<span class="crmlab-nowrap">−₩9,000</span> ~ <span class="crmlab-nowrap">+₩4,200</span>)</p>'
>>> keep_amounts_together("<td>5,740만 원 감소</td>")
'<td><span class="crmlab-nowrap">5,740만 원</span> 감소</td>'
"""
from __future__ import annotations

import re

__all__ = ["NOWRAP_CLASS", "NOWRAP_CSS", "AMOUNT", "keep_amounts_together"]

NOWRAP_CLASS = "crmlab-nowrap"
NOWRAP_CSS = f".{NOWRAP_CLASS} {{ white-space: nowrap; }}"

_SIGN = r"[+\-−]?"
_NUMBER = r"\d[\d,]*(?:\.\d+)?"
#: an amount: money with a symbol (``−₩1,234``, ``+$12.50``, ``₩4.41M``), Korean won
#: (``−8,665원``, ``5,740만 원``, ``1억 2,346만 원``), or a difference in percentage points
#: (``+1.2 pp``)
AMOUNT = re.compile(
    r"(?<![\w.,])" + _SIGN + "(?:"
    + r"[₩$€¥£]" + _NUMBER + r"(?:[KMB](?![A-Za-z]))?"
    + r"|\d[\d,]*억(?:[ \u00a0]\d[\d,]*만)?[ \u00a0]원"
    + r"|\d[\d,]*만[ \u00a0]원"
    + r"|" + _NUMBER + r"원"
    + r"|" + _NUMBER + r"[ \u00a0]pp(?![A-Za-z])"
    + ")")

_TAG = re.compile(r"(<!--.*?-->|<[^>]*>)", re.DOTALL)
_RAW = ("style", "script", "title", "textarea")
_OPEN = re.compile(r"<\s*([A-Za-z][\w-]*)")
_CLOSE = re.compile(r"<\s*/\s*([A-Za-z][\w-]*)")


def _wrap(text: str) -> str:
    return AMOUNT.sub(lambda m: f'<span class="{NOWRAP_CLASS}">{m.group(0)}</span>', text)


def keep_amounts_together(page: str, nowrap_classes=()) -> str:
    """``page`` with every amount in its text kept on one line (see the module docstring);
    the ``white-space: nowrap`` rule goes into the ``<head>`` when the page has one and an
    amount was wrapped. Text inside an element of one of ``nowrap_classes`` (classes the page's
    own style sheet already keeps on one line) and inside an existing ``crmlab-nowrap`` span is
    left as it is, so applying the pass twice changes nothing more."""
    skip = {NOWRAP_CLASS, *nowrap_classes}
    parts = _TAG.split(page)
    raw: str | None = None          # inside <style>, <script>, <title>, <textarea>
    held: str | None = None         # the tag of an element whose text already does not wrap
    depth = 0
    wrapped = False
    for i, part in enumerate(parts):
        if i % 2:                   # a tag (or a comment)
            o, c = _OPEN.match(part), _CLOSE.match(part)
            if raw is not None:
                if c and c.group(1).lower() == raw:
                    raw = None
            elif held is not None:
                if o and o.group(1).lower() == held and not part.rstrip().endswith("/>"):
                    depth += 1
                elif c and c.group(1).lower() == held:
                    depth -= 1
                    held = None if depth == 0 else held
            elif o and o.group(1).lower() in _RAW and not part.rstrip().endswith("/>"):
                raw = o.group(1).lower()
            elif o and not part.rstrip().endswith("/>") and skip & _classes(part):
                held, depth = o.group(1).lower(), 1
            continue
        if raw is None and held is None and part:
            new = _wrap(part)
            if new != part:
                parts[i] = new
                wrapped = True
    out = "".join(parts)
    if wrapped and NOWRAP_CSS not in out:
        m = re.search(r"</head\s*>", out, re.IGNORECASE)
        if m:
            out = out[:m.start()] + f"<style>{NOWRAP_CSS}</style>" + out[m.start():]
    return out


_CLASS_ATTR = re.compile(r"""\bclass\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""", re.IGNORECASE)


def _classes(tag: str) -> set[str]:
    m = _CLASS_ATTR.search(tag)
    return set((m.group(1) or m.group(2) or m.group(3) or "").split()) if m else set()
