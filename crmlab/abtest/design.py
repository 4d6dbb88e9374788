"""Experiment design: sample size, power and minimum detectable effect.

Conventions
-----------
- ``n_control`` is the control (holdout) group's size; the treatment group has
  ``ratio * n_control`` customers (a 10% holdout with one treatment is ``ratio = 9``).
  Sizes are returned unrounded (round up yourself, or read ``n_control_ceil``).
- ``alternative="two-sided"`` or ``"one-sided"`` (``"greater"``/``"less"`` are accepted as
  one-sided). Two-sided power is R's non-strict definition: the probability of rejecting in
  the direction of the true effect only (``power.prop.test(strict = FALSE)``).

Proportions, ``method="pooled"`` (default) — R's ``power.prop.test`` generalised to unequal
allocation: the critical value uses the pooled rate under H0 and the spread under H1 uses the
two arms' own rates,

    sqrt(n_c) |p_t - p_c| = z_a sqrt(pbar qbar (1 + 1/r)) + z_b sqrt(p_c q_c + p_t q_t / r),
    pbar = (p_c + r p_t) / (1 + r).

With ``ratio = 1`` this is exactly ``power.prop.test``. ``method="unpooled"`` is the formula of
most online calculators: ``n_c = (z_a + z_b)^2 (p_c q_c + p_t q_t / r) / (p_t - p_c)^2``.

Means — R's ``power.t.test`` (noncentral t, ``df = n_c + n_t - 2``,
``ncp = delta / (sd sqrt(1/n_c + 1/n_t))``), solved numerically.

Survival (time to churn) — Schoenfeld (1983): the number of events needed by a Cox / log-rank
comparison, ``d = (z_a + z_b)^2 (1 + r)^2 / (r log(HR)^2)``.
"""
from __future__ import annotations

import html
import math

import numpy as np
import pandas as pd
from scipy import optimize, stats

__all__ = ["sample_size_proportions", "power_proportions", "mde_proportions",
           "sample_size_means", "power_means", "mde_means", "sample_size_survival",
           "power_survival", "power_curve", "DesignResult"]


class DesignResult(float):
    """A number (sample size, power or MDE) that also carries its inputs and a reading.

    Behaves as a float (``round(n)``, ``n > 100``); the inputs and derived quantities are
    attributes (``n_control``, ``n_treatment``, ``n_total``, ``power`` ...) and in
    :meth:`to_frame`.
    """

    def __new__(cls, value: float, what: str, reading: str, **info):
        obj = super().__new__(cls, value)
        obj.what = what
        obj._reading = reading
        obj.info = info
        return obj

    def __getattr__(self, name):
        info = self.__dict__.get("info", {})
        if name in info:
            return info[name]
        raise AttributeError(f"DesignResult has no attribute {name!r}")

    def __reduce__(self):
        return (DesignResult, (float(self), self.what, self._reading), {"info": self.info})

    @property
    def reading(self) -> str:
        """One plain-language sentence."""
        return self._reading

    def to_frame(self) -> pd.DataFrame:
        """One row: the inputs and the results."""
        return pd.DataFrame([{self.what: float(self), **self.info}])

    def _repr_html_(self) -> str:
        return (f"<div><p>{html.escape(self.reading)}</p>"
                + self.to_frame().to_html(index=False, float_format=lambda v: f"{v:.6g}")
                + "</div>")


def _tside(alternative: str) -> int:
    if alternative in ("two-sided", "two.sided", "two_sided"):
        return 2
    if alternative in ("one-sided", "one.sided", "greater", "less", "larger", "smaller"):
        return 1
    raise ValueError(f"alternative must be 'two-sided' or 'one-sided', got {alternative!r}")


def _check_p(name, p):
    if not 0 < p < 1:
        raise ValueError(f"{name} must lie strictly between 0 and 1, got {p}")


def _check_common(alpha, ratio, power=None):
    _check_p("alpha", alpha)
    if power is not None:
        _check_p("power", power)
    if not ratio > 0:
        raise ValueError(f"ratio (treatment size / control size) must be positive, got {ratio}")


# -- proportions ---------------------------------------------------------------------------------

def _prop_power(p_c, p_t, n_c, alpha, ratio, tside, method):
    d = abs(p_t - p_c)
    za = stats.norm.isf(alpha / tside)
    s1 = math.sqrt(p_c * (1 - p_c) + p_t * (1 - p_t) / ratio)
    if method == "pooled":
        pbar = (p_c + ratio * p_t) / (1 + ratio)
        s0 = math.sqrt(pbar * (1 - pbar) * (1 + 1 / ratio))
    elif method == "unpooled":
        s0 = s1
    else:
        raise ValueError(f"method must be 'pooled' or 'unpooled', got {method!r}")
    return float(stats.norm.cdf((math.sqrt(n_c) * d - za * s0) / s1)), za, s0, s1


def power_proportions(p_control: float, p_treatment: float, n_control: float,
                      alpha: float = 0.05, ratio: float = 1.0,
                      alternative: str = "two-sided", method: str = "pooled") -> DesignResult:
    """Power of the two-proportion test with ``n_control`` customers in control.

    Examples
    --------
    >>> round(power_proportions(0.50, 0.75, 50), 4)   # R: power.prop.test(n=50, p1=.5, p2=.75)
    0.7402
    """
    _check_p("p_control", p_control)
    _check_p("p_treatment", p_treatment)
    _check_common(alpha, ratio)
    if not n_control > 0:
        raise ValueError(f"n_control must be positive, got {n_control}")
    pw, *_ = _prop_power(p_control, p_treatment, n_control, alpha, ratio, _tside(alternative),
                         method)
    return DesignResult(pw, "power", (
        f"With {n_control:,.0f} customers in control and {ratio * n_control:,.0f} in treatment, "
        f"a change from {100 * p_control:.2f}% to {100 * p_treatment:.2f}% is detected with "
        f"probability {100 * pw:.1f}% ({alternative}, alpha {alpha:g}, {method} formula)."),
        p_control=p_control, p_treatment=p_treatment, n_control=n_control,
        n_treatment=ratio * n_control, alpha=alpha, ratio=ratio, alternative=alternative,
        method=method)


def sample_size_proportions(p_control: float, p_treatment: float, alpha: float = 0.05,
                            power: float = 0.8, ratio: float = 1.0,
                            alternative: str = "two-sided",
                            method: str = "pooled") -> DesignResult:
    """Control-group size needed to detect ``p_control -> p_treatment``.

    Parameters
    ----------
    p_control, p_treatment : float
        Conversion rates in control and treatment.
    alpha, power : float
    ratio : float
        Treatment size / control size (9 for a 10% holdout with one treatment).
    alternative : {"two-sided", "one-sided"}
    method : {"pooled", "unpooled"}
        ``"pooled"``: R's ``power.prop.test`` (exact match at ratio 1); ``"unpooled"``: the
        online-calculator formula.

    Returns
    -------
    DesignResult
        The (unrounded) control size as a float; attributes ``n_control``, ``n_treatment``,
        ``n_total``, ``n_control_ceil``, ``n_treatment_ceil``.

    Examples
    --------
    >>> round(sample_size_proportions(0.50, 0.75, power=0.90), 1)  # R doc: "=> n = 76.7"
    76.7
    """
    _check_p("p_control", p_control)
    _check_p("p_treatment", p_treatment)
    _check_common(alpha, ratio, power)
    if p_control == p_treatment:
        raise ValueError("p_control equals p_treatment: no finite sample size detects a zero "
                         "difference")
    tside = _tside(alternative)
    _, za, s0, s1 = _prop_power(p_control, p_treatment, 1.0, alpha, ratio, tside, method)
    zb = stats.norm.ppf(power)
    n = ((za * s0 + zb * s1) / abs(p_treatment - p_control)) ** 2
    return _size_result(n, ratio, (
        f"{math.ceil(n):,} customers in control and {math.ceil(ratio * n):,} in treatment "
        f"detect {100 * p_control:.2f}% -> {100 * p_treatment:.2f}% "
        f"({100 * (p_treatment / p_control - 1):+.1f}% relative) with {100 * power:.0f}% power "
        f"({alternative}, alpha {alpha:g}, {method} formula)."),
        p_control=p_control, p_treatment=p_treatment, alpha=alpha, power=power,
        alternative=alternative, method=method)


def _size_result(n, ratio, reading, **info):
    return DesignResult(n, "n_control", reading, n_control=n, n_treatment=ratio * n,
                        n_total=n * (1 + ratio), n_control_ceil=math.ceil(n - 1e-9),
                        n_treatment_ceil=math.ceil(ratio * n - 1e-9), ratio=ratio, **info)


def mde_proportions(p_control: float, n_control: float, alpha: float = 0.05,
                    power: float = 0.8, ratio: float = 1.0, alternative: str = "two-sided",
                    method: str = "pooled", direction: str = "increase") -> DesignResult:
    """Minimum detectable absolute change in conversion rate for a given control size.

    Returns the MDE ``p_treatment - p_control`` (negative for ``direction="decrease"``) with
    attributes ``p_treatment`` and ``relative_mde``.

    Examples
    --------
    >>> m = mde_proportions(0.05, 10_000, ratio=9)
    >>> round(float(m), 4), round(m.relative_mde, 3)
    (0.0067, 0.134)
    """
    _check_p("p_control", p_control)
    _check_common(alpha, ratio, power)
    tside = _tside(alternative)
    hi = 1 - 1e-9 if direction == "increase" else 1e-9
    if direction not in ("increase", "decrease"):
        raise ValueError("direction must be 'increase' or 'decrease'")

    def f(pt):
        return _prop_power(p_control, pt, n_control, alpha, ratio, tside, method)[0] - power

    if f(hi) < 0:
        raise ValueError(f"no effect is detectable with {power:.0%} power at n_control="
                         f"{n_control:,}")
    lo = p_control + (1e-12 if direction == "increase" else -1e-12)
    pt = optimize.brentq(f, lo, hi, xtol=1e-12)
    return DesignResult(pt - p_control, "mde", (
        f"With {n_control:,.0f} customers in control and {ratio * n_control:,.0f} in treatment "
        f"the smallest detectable change from {100 * p_control:.2f}% is "
        f"{100 * (pt - p_control):+.3f} pp ({100 * (pt / p_control - 1):+.1f}% relative) at "
        f"{100 * power:.0f}% power ({alternative}, alpha {alpha:g})."),
        p_control=p_control, p_treatment=pt, relative_mde=pt / p_control - 1,
        n_control=n_control, n_treatment=ratio * n_control, alpha=alpha, power=power,
        ratio=ratio, alternative=alternative, method=method)


# -- means -------------------------------------------------------------------------------------

def _t_power(delta, sd, n_c, alpha, ratio, tside):
    n_t = ratio * n_c
    nu = n_c + n_t - 2
    if nu <= 0:
        return 0.0
    qu = stats.t.isf(alpha / tside, nu)
    ncp = abs(delta) / (sd * math.sqrt(1 / n_c + 1 / n_t))
    return float(stats.nct.sf(qu, nu, ncp))


def power_means(delta: float, sd: float, n_control: float, alpha: float = 0.05,
                ratio: float = 1.0, alternative: str = "two-sided") -> DesignResult:
    """Power of the two-sample t-test (R ``power.t.test`` generalised to unequal allocation).

    Examples
    --------
    >>> round(power_means(1, 1, 20), 7)   # R: power.t.test(n = 20, delta = 1)
    0.8689528
    """
    _check_common(alpha, ratio)
    if not sd > 0:
        raise ValueError(f"sd must be positive, got {sd}")
    pw = _t_power(delta, sd, n_control, alpha, ratio, _tside(alternative))
    return DesignResult(pw, "power", (
        f"With {n_control:,.0f} customers in control and {ratio * n_control:,.0f} in treatment a "
        f"difference in means of {delta:,.4g} (sd {sd:,.4g}) is detected with probability "
        f"{100 * pw:.1f}% ({alternative}, alpha {alpha:g})."),
        delta=delta, sd=sd, n_control=n_control, n_treatment=ratio * n_control, alpha=alpha,
        ratio=ratio, alternative=alternative)


def sample_size_means(delta: float, sd: float, alpha: float = 0.05, power: float = 0.8,
                      ratio: float = 1.0, alternative: str = "two-sided") -> DesignResult:
    """Control-group size for a two-sample t-test to detect a difference ``delta``.

    Solves R's ``power.t.test`` power equation (noncentral t) for ``n_control``.

    Examples
    --------
    >>> round(sample_size_means(1, 1, power=0.90), 4)   # R: power.t.test(power=.90, delta=1)
    22.0211
    """
    _check_common(alpha, ratio, power)
    if not sd > 0:
        raise ValueError(f"sd must be positive, got {sd}")
    if delta == 0:
        raise ValueError("delta is zero: no finite sample size detects a zero difference")
    tside = _tside(alternative)
    lo = max(2.0 / (1 + ratio), 1.0) + 1e-6
    hi = 10.0
    while _t_power(delta, sd, hi, alpha, ratio, tside) < power:
        hi *= 4
        if hi > 1e13:
            raise ValueError("sample size beyond 1e13: effect too small for this sd")
    n = optimize.brentq(lambda n: _t_power(delta, sd, n, alpha, ratio, tside) - power, lo, hi,
                        xtol=1e-10, rtol=1e-14)
    return _size_result(n, ratio, (
        f"{math.ceil(n):,} customers in control and {math.ceil(ratio * n):,} in treatment detect "
        f"a difference in means of {delta:,.4g} (sd {sd:,.4g}) with {100 * power:.0f}% power "
        f"({alternative}, alpha {alpha:g}, t-test)."),
        delta=delta, sd=sd, alpha=alpha, power=power, alternative=alternative)


def mde_means(sd: float, n_control: float, alpha: float = 0.05, power: float = 0.8,
              ratio: float = 1.0, alternative: str = "two-sided") -> DesignResult:
    """Minimum detectable difference in means for a given control size.

    Examples
    --------
    >>> round(mde_means(1, 22.02110, power=0.9), 3)
    1.0
    """
    _check_common(alpha, ratio, power)
    tside = _tside(alternative)
    hi = sd
    while _t_power(hi, sd, n_control, alpha, ratio, tside) < power:
        hi *= 2
        if hi > 1e12 * sd:
            raise ValueError("no detectable effect at this sample size")
    delta = optimize.brentq(lambda d: _t_power(d, sd, n_control, alpha, ratio, tside) - power,
                            1e-12 * sd, hi, xtol=1e-12 * sd)
    return DesignResult(delta, "mde", (
        f"With {n_control:,.0f} customers in control and {ratio * n_control:,.0f} in treatment "
        f"the smallest detectable difference in means is {delta:,.4g} ({delta / sd:.3f} sd) at "
        f"{100 * power:.0f}% power ({alternative}, alpha {alpha:g})."),
        sd=sd, n_control=n_control, n_treatment=ratio * n_control, alpha=alpha, power=power,
        ratio=ratio, alternative=alternative)


# -- survival ----------------------------------------------------------------------------------

def sample_size_survival(hazard_ratio: float, alpha: float = 0.05, power: float = 0.8,
                         ratio: float = 1.0, alternative: str = "two-sided",
                         event_probability: float | None = None) -> DesignResult:
    """Number of events (e.g. churns) for a log-rank / Cox comparison (Schoenfeld 1983).

    ``event_probability`` (share of customers expected to have the event during follow-up)
    turns events into customers: ``n_total = events / event_probability``.

    Examples
    --------
    >>> round(sample_size_survival(0.5, power=0.8), 1)
    65.3
    """
    _check_common(alpha, ratio, power)
    if not hazard_ratio > 0 or hazard_ratio == 1:
        raise ValueError(f"hazard_ratio must be positive and different from 1, got {hazard_ratio}")
    za = stats.norm.isf(alpha / _tside(alternative))
    zb = stats.norm.ppf(power)
    d = (za + zb) ** 2 * (1 + ratio) ** 2 / (ratio * math.log(hazard_ratio) ** 2)
    info = dict(hazard_ratio=hazard_ratio, alpha=alpha, power=power, ratio=ratio,
                alternative=alternative, events=d, events_ceil=math.ceil(d - 1e-9))
    text = (f"{math.ceil(d):,} events (e.g. churns) across both arms detect a hazard ratio of "
            f"{hazard_ratio:g} with {100 * power:.0f}% power ({alternative}, alpha {alpha:g}, "
            f"Schoenfeld)")
    if event_probability is not None:
        _check_p("event_probability", event_probability)
        n = d / event_probability
        info.update(event_probability=event_probability, n_total=n,
                    n_control=n / (1 + ratio), n_treatment=n * ratio / (1 + ratio))
        text += f"; with {100 * event_probability:.0f}% of customers churning: {math.ceil(n):,} customers"
    return DesignResult(d, "events", text + ".", **info)


def power_survival(hazard_ratio: float, events: float, alpha: float = 0.05, ratio: float = 1.0,
                   alternative: str = "two-sided") -> DesignResult:
    """Power of the log-rank / Cox test with ``events`` events (Schoenfeld 1983).

    Examples
    --------
    >>> round(power_survival(0.5, 65.3), 3)
    0.8
    """
    _check_common(alpha, ratio)
    za = stats.norm.isf(alpha / _tside(alternative))
    z = math.sqrt(events * ratio) / (1 + ratio) * abs(math.log(hazard_ratio))
    pw = float(stats.norm.cdf(z - za))
    return DesignResult(pw, "power", (
        f"{events:,.0f} events detect a hazard ratio of {hazard_ratio:g} with probability "
        f"{100 * pw:.1f}% ({alternative}, alpha {alpha:g}, Schoenfeld)."),
        hazard_ratio=hazard_ratio, events=events, alpha=alpha, ratio=ratio,
        alternative=alternative)


def power_curve(p_control: float, relative_lifts, n_controls, alpha: float = 0.05,
                ratio: float = 1.0, alternative: str = "two-sided",
                method: str = "pooled") -> pd.DataFrame:
    """Power of the proportion test over a grid of relative lifts and control sizes.

    Returns a tidy frame ``relative_lift, p_treatment, n_control, n_total, power``.

    Examples
    --------
    >>> power_curve(0.05, [0.1, 0.2], [1000, 5000]).shape
    (4, 5)
    """
    rows = []
    for lift in np.atleast_1d(relative_lifts):
        pt = p_control * (1 + float(lift))
        for n in np.atleast_1d(n_controls):
            rows.append({"relative_lift": float(lift), "p_treatment": pt, "n_control": float(n),
                         "n_total": float(n) * (1 + ratio),
                         "power": float(power_proportions(p_control, pt, float(n), alpha, ratio,
                                                          alternative, method))})
    return pd.DataFrame(rows)
