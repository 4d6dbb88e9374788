"""Result objects and input preparation shared by every A/B statistic.

Every test in :mod:`crmlab.abtest` returns an :class:`ABResult`: the numbers as attributes, a
tidy :meth:`ABResult.to_frame` (one row per metric x treatment arm against control), a
one-sentence plain-language :attr:`ABResult.reading`, the notes that say what was excluded or
adjusted, and ``_repr_html_`` for JupyterLab.
"""
from __future__ import annotations

import html
import math
import warnings
from dataclasses import dataclass, field
from typing import Any, Iterable

import numpy as np
import pandas as pd

from crmlab.data.errors import DataContractError

#: columns every tidy result frame starts with (confidence intervals are for ``abs_lift``)
COLUMNS = ["metric", "arm", "n", "value", "control_value", "abs_lift", "rel_lift",
           "ci_low", "ci_high", "p_value", "method"]

#: below this many customers in an arm a warning is raised and an exact method is used
SMALL_N = 30


class SmallSampleWarning(UserWarning):
    """An arm has fewer than 30 customers; an exact method is used where one exists."""


@dataclass
class ABResult:
    """Result of an A/B statistic.

    Attributes
    ----------
    table : DataFrame
        One row per metric x treatment arm against control, columns :data:`COLUMNS` first.
    metric : str
        What was measured.
    method : str
        The method(s) used, in words.
    alpha : float
        Significance level used for the intervals (two-sided ``1 - alpha``).
    notes : list of str
        What was excluded, capped, adjusted or chosen automatically, and why.
    excluded : DataFrame
        Rows left out of the analysis: ``reason, arm, rows``.
    extra : dict
        Test-specific numbers (e.g. ``omnibus_p_value``), also reachable as attributes.
    """

    table: pd.DataFrame
    metric: str
    method: str
    alpha: float = 0.05
    notes: list[str] = field(default_factory=list)
    excluded: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(
        columns=["reason", "arm", "rows"]))
    extra: dict[str, Any] = field(default_factory=dict)
    reading_override: str | None = None
    kind: str = "lift"

    # -- numbers as attributes -------------------------------------------------------------
    def _col(self, name: str):
        s = self.table.set_index("arm")[name] if "arm" in self.table else self.table[name]
        if len(s) == 1:
            v = s.iloc[0]
            return float(v) if isinstance(v, (int, float, np.number)) else v
        return s

    @property
    def arms(self) -> list:
        """Treatment arms compared against control, in table order."""
        return list(dict.fromkeys(self.table["arm"])) if "arm" in self.table else []

    @property
    def p_value(self):
        """p-value (a float for one comparison, a Series by arm for several)."""
        return self._col("p_value")

    @property
    def abs_lift(self):
        """Treatment minus control."""
        return self._col("abs_lift")

    @property
    def rel_lift(self):
        """Treatment / control - 1."""
        return self._col("rel_lift")

    @property
    def ci_low(self):
        """Lower confidence limit of ``abs_lift``."""
        return self._col("ci_low")

    @property
    def ci_high(self):
        """Upper confidence limit of ``abs_lift``."""
        return self._col("ci_high")

    @property
    def ci(self):
        """``(ci_low, ci_high)`` of ``abs_lift`` (for one comparison)."""
        return (self.ci_low, self.ci_high)

    @property
    def value(self):
        """Treatment arm value."""
        return self._col("value")

    @property
    def control_value(self):
        """Control arm value."""
        return self._col("control_value")

    def __getattr__(self, name: str):
        extra = self.__dict__.get("extra", {})
        if name in extra:
            return extra[name]
        table = self.__dict__.get("table")
        if table is not None and name in table.columns:
            return self._col(name)
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")

    # -- tidy output ------------------------------------------------------------------------
    def to_frame(self) -> pd.DataFrame:
        """Tidy table: one row per metric x arm vs control (a copy)."""
        return self.table.copy()

    @property
    def summary(self) -> pd.DataFrame:
        """Alias of :meth:`to_frame` (statsmodels-style)."""
        return self.to_frame()

    @property
    def reading(self) -> str:
        """One plain-language sentence."""
        if self.reading_override is not None:
            return self.reading_override
        return lift_reading(self.table, self.alpha)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.metric}: {self.reading}>"

    def _repr_html_(self) -> str:
        parts = [f"<div><p><b>{html.escape(self.metric)}</b> — {html.escape(self.reading)}</p>",
                 self.table.to_html(index=False, float_format=lambda v: f"{v:.6g}",
                                    na_rep="—")]
        parts.append(f"<p><small>method: {html.escape(self.method)}</small></p>")
        for note in self.notes:
            parts.append(f"<p><small>note: {html.escape(note)}</small></p>")
        parts.append("</div>")
        return "\n".join(parts)


# -- readings ----------------------------------------------------------------------------------

def _fmt(v: float, pct: bool) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "n/a"
    if pct:
        return f"{100 * v:.2f}%"
    return f"{v:,.4g}"


def _fmt_lift(v: float, pct: bool) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "n/a"
    if pct:
        return f"{100 * v:+.2f} pp"
    return f"{v:+,.4g}"


def _fmt_p(p: float) -> str:
    if p is None or (isinstance(p, float) and math.isnan(p)):
        return "p n/a"
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def lift_reading(table: pd.DataFrame, alpha: float) -> str:
    """One sentence summarising every row of a lift table."""
    if table.empty:
        return "No comparison could be made."
    pct = bool(table.get("scale", pd.Series(["abs"])).iloc[0] == "proportion")
    level = f"{100 * (1 - alpha):.0f}%"
    bits = []
    for _, r in table.iterrows():
        pcol = "p_adjusted" if "p_adjusted" in table and pd.notna(r.get("p_adjusted")) else "p_value"
        p = r[pcol]
        sig = (p < alpha) if pd.notna(p) else False
        word = ("higher" if r["abs_lift"] > 0 else "lower") if sig else "not clearly different"
        seg = f" in {r['segment']}" if "segment" in table and pd.notna(r.get("segment")) else ""
        bits.append(
            f"{r['arm']}{seg} {r['metric']} {_fmt(r['value'], pct)} vs control "
            f"{_fmt(r['control_value'], pct)} ({_fmt_lift(r['abs_lift'], pct)}, {level} CI "
            f"{_fmt_lift(r['ci_low'], pct)} to {_fmt_lift(r['ci_high'], pct)}, "
            f"{_fmt_p(p)}{' adjusted' if pcol == 'p_adjusted' else ''}: {word})")
    return "; ".join(bits) + "."


# -- input preparation ---------------------------------------------------------------------------

@dataclass
class Prepared:
    """Cleaned per-customer data of one experiment."""

    data: pd.DataFrame            # columns: arm, outcome (+ extras), NaN rows removed
    arm: str
    control: Any
    treatments: list
    excluded: pd.DataFrame
    notes: list[str]
    table: str


def _to_pandas(df, columns: list[str], table: str) -> pd.DataFrame:
    from crmlab._engine import is_ibis

    if is_ibis(df):
        missing = [c for c in columns if c not in df.columns]
        if missing:
            raise DataContractError(table, ", ".join(missing), "column not found "
                                    f"(available: {', '.join(df.columns)})", None)
        return df.select(*columns).to_pandas()
    if isinstance(df, pd.DataFrame):
        missing = [c for c in columns if c not in df.columns]
        if missing:
            raise DataContractError(table, ", ".join(missing), "column not found "
                                    f"(available: {', '.join(map(str, df.columns))})", len(df))
        return df.loc[:, columns]
    raise TypeError(f"{table}: expected a pandas DataFrame or an Ibis table, "
                    f"got {type(df).__name__}")


def prepare(df, arm: str, outcomes: Iterable[str], control, *, arms: Iterable | None = None,
            table: str = "experiment", extra: Iterable[str] = (),
            drop_missing_extra: bool = True) -> Prepared:
    """Validate an experiment table and drop (and count) unusable rows.

    - ``arm`` and every outcome column must exist (``DataContractError`` otherwise);
    - ``control`` must be one of the arm labels (``DataContractError`` listing the labels);
    - an arm listed in ``arms`` (or an unused category of a categorical ``arm`` column) with no
      customers is an error;
    - rows with a missing arm label or a missing (NaN) outcome are excluded, counted by reason
      and arm, and reported in the notes (numeric ``extra`` columns too, unless
      ``drop_missing_extra`` is False).
    """
    outcomes = list(outcomes)
    extra = [c for c in extra if c not in outcomes and c != arm]
    cols = [arm] + outcomes + extra
    d = _to_pandas(df, list(dict.fromkeys(cols)), table)
    n_total = len(d)
    if n_total == 0:
        raise DataContractError(table, None, "no rows: the experiment has no customers", 0)
    excluded = []
    notes: list[str] = []
    na_arm = d[arm].isna()
    if na_arm.any():
        excluded.append({"reason": f"missing {arm}", "arm": None, "rows": int(na_arm.sum())})
        d = d.loc[~na_arm]
    labels = d[arm].unique().tolist()
    declared = None
    if arms is not None:
        declared = list(arms)
    elif isinstance(d[arm].dtype, pd.CategoricalDtype):
        declared = list(d[arm].cat.categories)
    if control not in labels:
        if declared is not None and control in declared:
            raise DataContractError(table, arm, f"control arm {control!r} has no customers", 0)
        raise DataContractError(
            table, arm, f"unknown control label {control!r}; arms present: "
            + ", ".join(map(repr, sorted(labels, key=str))), n_total)
    if declared is not None:
        empty = [a for a in declared if a not in labels]
        if empty:
            raise DataContractError(table, arm, "arm(s) with no customers: "
                                    + ", ".join(map(repr, empty)), 0)
        unknown = [a for a in labels if a not in declared]
        if unknown:
            raise DataContractError(table, arm, "rows in arms not listed in `arms`: "
                                    + ", ".join(map(repr, unknown)),
                                    int(d[arm].isin(unknown).sum()))
        order = declared
    else:
        order = sorted(labels, key=lambda v: (str(type(v)), v))
    treatments = [a for a in order if a != control]
    if not treatments:
        raise DataContractError(table, arm, f"only the control arm {control!r} is present; "
                                "nothing to compare", n_total)
    for col in outcomes + (extra if drop_missing_extra else []):
        if not (pd.api.types.is_numeric_dtype(d[col]) or pd.api.types.is_bool_dtype(d[col])):
            if col in outcomes:
                raise DataContractError(table, col, f"outcome must be numeric, got dtype "
                                        f"{d[col].dtype}", len(d), d[col].head().tolist())
            continue
        na = d[col].isna()
        if na.any():
            counts = d.loc[na, arm].value_counts()
            for a, k in counts.items():
                excluded.append({"reason": f"missing {col}", "arm": a, "rows": int(k)})
            d = d.loc[~na]
    exc = pd.DataFrame(excluded, columns=["reason", "arm", "rows"])
    if len(exc):
        total = int(exc["rows"].sum())
        notes.append(f"{total:,} of {n_total:,} rows excluded: " + "; ".join(
            f"{r.reason}{'' if r.arm is None else f' ({r.arm})'}: {r.rows:,}"
            for r in exc.itertuples()))
    present = d[arm].unique().tolist()
    gone = [a for a in [control] + treatments if a not in present]
    if gone:
        raise DataContractError(table, ", ".join(outcomes), "every row of arm(s) "
                                + ", ".join(map(repr, gone)) + " has a missing outcome", 0)
    d = d.rename(columns={arm: "_arm"})
    return Prepared(d, arm, control, treatments, exc, notes, table)


def warn_small(counts: dict, table: str, what: str = "an exact method is used") -> list[str]:
    """Warn (SmallSampleWarning) about arms with fewer than 30 customers; returns notes."""
    small = {a: n for a, n in counts.items() if n < SMALL_N}
    if not small:
        return []
    msg = (f"{table}: arm(s) with fewer than {SMALL_N} customers ("
           + ", ".join(f"{a!r}: {n}" for a, n in small.items()) + f"); {what}")
    warnings.warn(msg, SmallSampleWarning, stacklevel=3)
    return [msg]


def frame(rows, extra_cols: Iterable[str] = ()) -> pd.DataFrame:
    """Build a tidy result frame with the standard columns first."""
    t = pd.DataFrame(rows)
    for c in COLUMNS:
        if c not in t:
            t[c] = np.nan
    rest = [c for c in t.columns if c not in COLUMNS]
    return t[COLUMNS + rest]
