"""Gamma-Gamma model of spend per purchase (Fader, Hardie & Lee 2005; Fader & Hardie 2013)."""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import digamma, gammaln

from crmlab.ltv._base import BaseFitter, _as_array, unique_rows

__all__ = ["GammaGammaFitter"]


class GammaGammaFitter(BaseFitter):
    """Gamma-Gamma: a customer's purchase values are Gamma(p, ν), with ν ~ Gamma(q, v) across
    customers; fitted on the mean value ``m_x`` of each customer's ``x`` repeat purchases.

    Only customers with at least one repeat purchase and a positive mean value enter the fit;
    the others are counted in ``excluded_`` (the model needs ``x >= 1`` and ``m_x > 0``). The
    model assumes spend independent of purchase frequency: check ``frequency_spend_correlation_``.

    Attributes
    ----------
    params_ : Series ``p, q, v``; ``log_likelihood_`` : total log-likelihood of the observed means
    (the density of ``m_x``, as in Fader & Hardie's note); ``summary``.

    Examples
    --------
    >>> from crmlab.datasets import load_cdnow
    >>> from crmlab.summaries import rfm_summary
    >>> cal = rfm_summary(load_cdnow(sample=True), "1997-10-01", "D", time_scaler=7)
    >>> gg = GammaGammaFitter().fit(cal)
    >>> gg.params_.round(2).tolist()
    [6.25, 3.74, 15.44]
    """

    _param_names = ("p", "q", "v")
    _model_name = "Gamma-Gamma"

    def fit(self, frequency, monetary_value=None, weights=None):
        """Fit on ``frequency`` (repeat purchases) and ``monetary_value`` (their mean value).

        ``frequency`` may be an rfm_summary table (``monetary_value[_cal]`` is then read from
        it). Customers with ``frequency == 0`` or ``monetary_value <= 0`` are left out and
        counted in ``excluded_``. Returns self.
        """
        if isinstance(frequency, pd.DataFrame):
            df = frequency
            sfx = "_cal" if "frequency_cal" in df.columns and "frequency" not in df.columns else ""
            frequency, monetary_value = df["frequency" + sfx], df["monetary_value" + sfx]
        if monetary_value is None:
            raise ValueError("Gamma-Gamma: give frequency and monetary_value")
        x = _as_array(frequency, "frequency", self._model_name)
        m = _as_array(monetary_value, "monetary_value", self._model_name)
        if len(x) != len(m):
            raise ValueError(f"Gamma-Gamma: frequency and monetary_value have different lengths "
                             f"({len(x)}, {len(m)})")
        w_all = np.ones(len(x)) if weights is None else np.asarray(weights, dtype=float)
        keep = (x > 0) & (m > 0)
        self.excluded_ = {
            "customers without repeat purchases (frequency 0)": int((x <= 0).sum()),
            "customers with repeat purchases but mean value <= 0": int(((x > 0) & (m <= 0)).sum()),
        }
        self.excluded_ = {k: v for k, v in self.excluded_.items() if v}
        if keep.sum() < 3:
            raise ValueError(f"Gamma-Gamma: {int(keep.sum())} of {len(x)} customers have a repeat "
                             "purchase with a positive mean value; at least 3 are needed")
        xs, ms = x[keep], m[keep]
        self.frequency_spend_correlation_ = (float(np.corrcoef(xs, ms)[0, 1])
                                             if xs.std() > 0 and ms.std() > 0 else float("nan"))
        (ux, um), w, _ = unique_rows(xs, ms, weights=w_all[keep])
        self._optimise((ux, um), w)
        return self

    def _start(self, data, w):
        x, m = data
        mean = np.average(m, weights=w)
        return np.log([1.0, 2.0, mean])

    @staticmethod
    def _loglik_rows(par, data):
        p, q, v = par
        x, m = data
        px = p * x
        lvm = np.log(v + m * x)
        ll = (gammaln(px + q) - gammaln(px) - gammaln(q) + q * np.log(v)
              + (px - 1) * np.log(m) + px * np.log(x) - (px + q) * lvm)
        g = np.empty((3, len(x)))
        g[0] = x * (digamma(px + q) - digamma(px) + np.log(m) + np.log(x) - lvm)
        g[1] = digamma(px + q) - digamma(q) + np.log(v) - lvm
        g[2] = q / v - (px + q) / (v + m * x)
        return ll, g

    def conditional_expected_average_profit(self, frequency=None, monetary_value=None):
        """E[M | x, m_x] = (v + x m_x) p / (p x + q − 1); the population mean p v/(q − 1) where
        ``frequency`` is 0 (or when called without arguments). Needs q > 1."""
        self._check_fitted()
        p, q, v = self.params_.to_numpy()
        if q <= 1:
            raise ValueError(f"Gamma-Gamma: q = {q:.3g} <= 1, the expected spend is infinite")
        pop = p * v / (q - 1)
        if frequency is None:
            return pop
        x = np.asarray(frequency, dtype=float)
        mx = np.asarray(monetary_value, dtype=float)
        cond = (v + x * mx) * p / (p * x + q - 1)
        return np.where(x > 0, cond, pop)
