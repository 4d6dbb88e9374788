"""crmlab.plots.abtest: the figures draw what the results say."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from crmlab import abtest  # noqa: E402
from crmlab.plots.abtest import plot_lifts, plot_power_curve, plot_sequential  # noqa: E402


def test_plot_lifts_draws_one_interval_per_row():
    df = pd.DataFrame({"arm": ["c"] * 1000 + ["t"] * 1000 + ["u"] * 1000,
                       "buy": np.r_[np.zeros(900), np.ones(100), np.zeros(860), np.ones(140),
                                    np.zeros(895), np.ones(105)]})
    r = abtest.proportions(df, "arm", "buy", "c")
    ax = plot_lifts(r)
    lines = [ln for ln in ax.lines if len(ln.get_xdata()) == 2 and ln.get_linestyle() == "-"]
    assert len(lines) == 2
    f = r.to_frame()
    assert sorted(tuple(np.round(ln.get_xdata(), 10)) for ln in lines) == sorted(
        tuple(np.round([a, b], 10)) for a, b in zip(f.ci_low, f.ci_high))


def test_power_curve_and_sequential_plots():
    curve = abtest.power_curve(0.05, [0.1, 0.2], [1000, 10000], ratio=9)
    ax = plot_power_curve(curve)
    assert ax.get_ylabel() == "power" and len(ax.get_legend().get_texts()) == 2
    d = abtest.group_sequential(4)
    ax = plot_sequential(d, [0.5, 1.5])
    np.testing.assert_allclose(ax.lines[0].get_ydata(), d.boundaries)
