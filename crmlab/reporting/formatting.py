"""Numbers on crmlab's pages: money in the data's currency, signed lifts with their intervals,
percentages and probabilities.

Every function takes what ``results.json`` holds (floats, ``None`` for a missing value) and
returns text; a missing or non-finite value reads ``–``. Signs are typographic (``−``, ``+``);
rounding is half-up (``₩1,234.5`` reads ``₩1,235``).

Examples
--------
>>> format_money(1234567.4)
'₩1,234,567'
>>> format_effect("conversion", 0.02, 0.005, 0.035, "KRW", "pp")
('+2.0 pp', '[+0.5 pp, +3.5 pp]')
>>> format_pct(0.35, -0.1, 0.8)
('+35%', '[−10%, +80%]')
"""
from __future__ import annotations

import math
from typing import Any

from crmlab import i18n

__all__ = ["CURRENCY_SYMBOLS", "RATE_METRICS", "MONEY_METRICS", "to_number", "round_half_up",
           "format_money", "fmt_signed", "format_effect", "format_pct", "format_probability",
           "format_count", "date_text", "MISSING"]

#: What a missing value reads.
MISSING = "–"
#: currency code -> (symbol, decimals)
CURRENCY_SYMBOLS = {"KRW": ("₩", 0), "USD": ("$", 2), "EUR": ("€", 2), "JPY": ("¥", 0),
                    "GBP": ("£", 2)}
#: Metrics that are shares (their lifts read in percentage points), and money.
RATE_METRICS = i18n.RATE_METRICS
MONEY_METRICS = i18n.MONEY_METRICS


def to_number(x: Any) -> float | None:
    """``x`` as a finite float, else None (booleans, text, NaN and inf are missing).

    Examples
    --------
    >>> to_number("2.5"), to_number(float("nan")), to_number(True)
    (2.5, None, None)
    """
    if x is None or isinstance(x, bool):
        return None
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def round_half_up(x: float, digits: int) -> float:
    """``x`` rounded to ``digits`` decimals, halves away from zero (not to even).

    Examples
    --------
    >>> round_half_up(2.5, 0), round_half_up(-0.125, 2)
    (3.0, -0.13)
    """
    return i18n.half_up(x, digits)


def format_money(value: Any, currency: str | None = "KRW", signed: bool = False) -> str:
    """Money in the data's currency: ``₩1,234,567`` (KRW has no minor unit), ``$1,234.50``.

    Examples
    --------
    >>> format_money(1234567.4)
    '₩1,234,567'
    >>> format_money(1234.5)
    '₩1,235'
    >>> format_money(-2500, "KRW", signed=True)
    '−₩2,500'
    >>> format_money(12.5, "USD", signed=True)
    '+$12.50'
    >>> format_money(None)
    '–'
    """
    v = to_number(value)
    if v is None:
        return MISSING
    code = (currency or "").upper()
    symbol, digits = CURRENCY_SYMBOLS.get(code, ("", 2))
    amount = f"{round_half_up(abs(v), digits):,.{digits}f}"
    if amount.strip("0,.") == "":
        sign = ""
    else:
        sign = "−" if v < 0 else ("+" if signed else "")
    return f"{sign}{symbol}{amount}" if symbol else f"{sign}{amount} {code}".strip()


def fmt_signed(v: float | None, digits: int, suffix: str = "") -> str:
    """``+1,234.50`` / ``−0.20``; zero (after rounding) has no sign.

    Examples
    --------
    >>> fmt_signed(1234.5, 2), fmt_signed(-0.001, 2), fmt_signed(None, 1)
    ('+1,234.50', '0.00', '–')
    """
    if v is None:
        return MISSING
    text = f"{abs(v):,.{digits}f}"
    sign = "" if text.strip("0,.") == "" else ("−" if v < 0 else "+")
    return f"{sign}{text}{suffix}"


def format_effect(metric: str | None, value, low, high, currency, pp: str = "pp",
                  lang: str | None = None) -> tuple[str, str]:
    """(point estimate, ``[low, high]``) of a lift, each written by
    :func:`crmlab.i18n.difference` — the campaign report's formatter, so the same number reads
    the same on both pages: percentage points with one decimal (shares), money, or plain units.
    ``lang`` (default: Korean when the points unit ``pp`` is ``%p``) picks the unit's form.

    Examples
    --------
    >>> format_effect("revenue", 1234.5, -200, 2600, "KRW", "pp")
    ('+₩1,235', '[−₩200, +₩2,600]')
    >>> format_effect("conversion", 0.0123, 0.001, None, "KRW", "%p")
    ('+1.2%p', '')
    >>> format_effect("orders", 0.0123, None, None, "KRW", "pp")
    ('+0.012', '')
    """
    v, lo, hi = to_number(value), to_number(low), to_number(high)
    if v is None:
        return MISSING, ""
    lang = lang or ("ko" if str(pp or "").lstrip().startswith("%") else "en")

    def f(x):
        return i18n.difference(metric, x, currency or "KRW", lang)
    ci = f"[{f(lo)}, {f(hi)}]" if lo is not None and hi is not None else ""
    return f(v), ci


def format_pct(value, low=None, high=None) -> tuple[str, str]:
    """(signed percentage, ``[low, high]``), whole percent: a return on cost.

    Examples
    --------
    >>> format_pct(-0.004)
    ('0%', '')
    """
    v = to_number(value)
    if v is None:
        return MISSING, ""

    def f(x):
        return fmt_signed(100 * x, 0, "%")
    lo, hi = to_number(low), to_number(high)
    ci = f"[{f(lo)}, {f(hi)}]" if lo is not None and hi is not None else ""
    return f(v), ci


def format_probability(p) -> str:
    """A probability as a whole percentage, kept off 0% and 100% (``<1%``, ``>99%``).

    Examples
    --------
    >>> format_probability(0.874), format_probability(0.9996), format_probability(0.0)
    ('87%', '>99%', '<1%')
    """
    v = to_number(p)
    if v is None:
        return MISSING
    if v < 0.005:
        return "<1%"
    if v > 0.995:
        return ">99%"
    return f"{round_half_up(100 * v, 0):.0f}%"


def format_count(n) -> str:
    """A count with thousands separators.

    Examples
    --------
    >>> format_count(12345.0), format_count(None)
    ('12,345', '–')
    """
    v = to_number(n)
    return MISSING if v is None else f"{int(round(v)):,}"


def date_text(x: Any) -> str:
    """The date part (``YYYY-MM-DD``) of an ISO timestamp; "" when missing."""
    return str(x)[:10] if x else ""
