"""Model checks (crmlab.ltv.checks) and their figures (crmlab.plots.ltv) on CDNOW."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from crmlab.datasets import load_cdnow  # noqa: E402
from crmlab.ltv import (BetaGeoFitter, GammaGammaFitter, ModifiedBetaGeoFitter,  # noqa: E402
                        ParetoNBDFitter, holdout_check, ltv_intervals, p_alive_matrix, tracking)
from crmlab.summaries import rfm_summary  # noqa: E402


@pytest.fixture(scope="module")
def orders():
    return load_cdnow(sample=True)


@pytest.fixture(scope="module")
def split(orders):
    return rfm_summary(orders, "1998-07-01", "D", "1997-10-01", time_scaler=7)


@pytest.fixture(scope="module")
def bg(split):
    return BetaGeoFitter().fit(split)


def test_tracking_totals_equal_the_summary(orders, split, bg):
    tr = tracking(bg, orders, "1997-10-01", "1998-07-01")
    t = tr.table
    cal = t.week_end <= pd.Timestamp("1997-10-01")
    # the calibration buckets hold the calibration repeat purchases, the rest the holdout ones
    assert t.actual[cal].sum() == split.frequency_cal.sum()
    assert t.actual[~cal].sum() == split.frequency_holdout.sum()
    assert tr.customers == len(split)
    # expected cumulative = sum over customers of E[X(time since their first purchase)]
    first = orders.groupby("customer_id").order_ts.min()
    el = (pd.Timestamp("1998-07-01") - first).dt.days.to_numpy() / 7
    assert t.expected_cumulative.iloc[-1] == pytest.approx(
        bg.expected_number_of_purchases_up_to_time(el).sum(), rel=1e-12)
    np.testing.assert_allclose(t.expected.cumsum(), t.expected_cumulative, rtol=1e-12)
    assert "weeks after calibration" in tr.caption and "39 weeks" in tr.caption
    # refunds are not purchases; customers first buying after calibration_end are left out
    extra = pd.DataFrame({"customer_id": [1, 999999], "order_ts": pd.to_datetime(
        ["1997-05-05", "1998-01-01"]), "amount": [-10.0, 5.0]})
    tr2 = tracking(bg, pd.concat([orders, extra]), "1997-10-01", "1998-07-01")
    pd.testing.assert_frame_equal(tr2.table, t)


def test_tracking_errors(orders, bg):
    with pytest.raises(ValueError, match="lacks column"):
        tracking(bg, orders.drop(columns="order_ts"), "1997-10-01", "1998-07-01")
    with pytest.raises(ValueError, match="is not before observation_end"):
        tracking(bg, orders, "1998-07-01", "1998-07-01")


def test_p_alive_matrix(bg):
    pn = ParetoNBDFitter().fit(rfm_summary(load_cdnow(sample=True), "1997-10-01", "D",
                                           time_scaler=7))
    for m in (bg, pn, ModifiedBetaGeoFitter().fit(rfm_summary(
            load_cdnow(sample=True), "1997-10-01", "D", time_scaler=7))):
        mat = p_alive_matrix(m, T=39, max_frequency=10, n_recency=14)
        assert mat.shape == (11, 14)
        assert np.isnan(mat.iloc[0, 1:]).all()
        assert mat.iloc[1:, -1].min() > mat.iloc[1:, 0].max() - 1e-12 or m is pn
        # for a repeat buyer, P(alive) increases with recency
        assert (np.diff(mat.iloc[3].to_numpy()) > 0).all()
        assert mat.iloc[4, 5] == pytest.approx(float(np.atleast_1d(
            m.conditional_probability_alive(4, mat.columns[5], 39))[0]), rel=1e-9)


def test_figures(orders, split, bg):
    from crmlab.plots import ltv as lp

    tr = tracking(bg, orders, "1997-10-01", "1998-07-01")
    for cum in (True, False):
        ax = lp.plot_tracking(tr, cumulative=cum)
        assert len(ax.lines) == 3 and tr.caption in [t.get_text() for t in ax.texts]
    ax = lp.plot_p_alive_matrix(p_alive_matrix(bg, T=39, max_frequency=8))
    assert "probability" in ax.texts[0].get_text()
    ax = lp.plot_holdout_check(holdout_check(bg, split), caption=True)
    assert "predicted" in ax.texts[0].get_text()
    iv = ltv_intervals(bg, split, GammaGammaFitter().fit(split))
    agg = iv.aggregate(by=np.where(split.frequency_cal > 0, "repeat", "one-time"))
    ax = lp.plot_intervals(agg, "clv")
    assert len(ax.get_yticklabels()) == 2 and "realistically" in ax.texts[0].get_text()
    plt.close("all")
