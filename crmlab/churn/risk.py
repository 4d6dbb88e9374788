"""Near-term churn risk from the current purchase gap (the repurchase view).

Under the shared definition a customer is *declared* churned once ``C`` days pass after a
purchase without another one. For a customer not yet churned at ``as_of`` whose last purchase
was ``g`` days ago (``g < C``), the churn is declared within ``h`` days exactly when no purchase
comes in the remaining ``C − g`` days and ``C − g <= h``. Its probability is a repurchase-time
question, ``S(C) / S(g)``, with ``S`` the Kaplan-Meier survival of the time from a purchase
to the next one (spells of all customers, by purchase number). This uses the current gap — the
strongest near-term signal — which a model of covariates at time zero cannot see.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from crmlab.churn._base import ChurnInputError
from crmlab.churn.km import _km, _step
from crmlab.churn.table import (_check_days, _timestamp, repurchase_table, survival_table)

__all__ = ["declared_churn_risk"]


def declared_churn_risk(orders, as_of, churn_after_days: float = 90, horizon_days: float = 30,
                        max_purchase_number: int = 3) -> pd.DataFrame:
    """Probability that each active customer is declared churned within ``horizon_days``.

    Parameters
    ----------
    orders : DataFrame or Ibis table
        ``customer_id, order_ts, amount`` (purchases as in :func:`survival_table`).
    as_of : timestamp-like
        The cut-off (exclusive): only orders before it are read.
    churn_after_days : float
        ``C``.
    horizon_days : float
        ``h`` (at most ``C``: within ``h <= C`` days at most one churn can be declared).
    max_purchase_number : int
        Gap curves are estimated separately after the 1st, 2nd, ... purchase, the last group
        pooling every purchase from this number on.

    Returns
    -------
    DataFrame indexed by ``customer_id`` (customers with ``churned == 0`` at ``as_of``, from
    time zero = first purchase) with ``n_purchases``, ``days_since_purchase``, ``p_churn``.

    Examples
    --------
    >>> import pandas as pd
    >>> orders = pd.DataFrame({"customer_id": [1, 1, 2, 3],
    ...     "order_ts": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-01-10", "2024-04-01"]),
    ...     "amount": 1.0})
    >>> r = declared_churn_risk(orders, "2024-04-15", churn_after_days=90, horizon_days=30)
    >>> r.index.tolist()  # customer 2 was already declared churned (no purchase for 96 days)
    [1, 3]
    >>> r["p_churn"].tolist()  # 3 bought 14 days ago: 76 days left > 30, cannot churn yet
    [1.0, 0.0]
    """
    C = _check_days(churn_after_days, "churn_after_days")
    h = _check_days(horizon_days, "horizon_days")
    if h > C:
        raise ChurnInputError(f"horizon_days ({h:g}) must not exceed churn_after_days ({C:g})")
    end = _timestamp(as_of, "as_of")
    st = survival_table(orders, end, C)
    active = st[st["churned"] == 0]
    spells = repurchase_table(orders, end, per="purchase", max_days=C)
    last = spells.groupby("customer_id", sort=False).tail(1).set_index("customer_id")
    last = last.reindex(active.index)
    g = (end - pd.to_datetime(last["purchase_ts"])).dt.total_seconds().to_numpy() / 86400.0
    k = np.minimum(last["purchase_number"].to_numpy(), max_purchase_number)
    stratum = np.minimum(spells["purchase_number"].to_numpy(), max_purchase_number)
    p = np.zeros(len(active))
    for s in np.unique(k):
        m = stratum == s
        if not m.any():
            raise ChurnInputError(f"declared_churn_risk: no purchase-to-purchase spells after "
                                  f"purchase number {s}")
        tt, nr, ev, ce, surv, gw = _km(spells["duration"].to_numpy()[m],
                                       spells["repurchased"].to_numpy()[m])
        here = k == s
        s_g = _step(tt, surv, g[here])
        s_c = _step(tt, surv, np.array([C]))[0]
        with np.errstate(divide="ignore", invalid="ignore"):
            q = np.where(s_g > 0, s_c / s_g, 1.0)  # P(no purchase by C | none by g)
        p[here] = np.where(C - g[here] <= h, q, 0.0)
    return pd.DataFrame({"n_purchases": last["purchase_number"].to_numpy(),
                         "days_since_purchase": g, "p_churn": np.clip(p, 0, 1)},
                        index=active.index)
