"""Churn figures render from real results (lung data, a fitted model, an evaluation)."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from lifelines.datasets import load_lung, load_rossi  # noqa: E402

from crmlab.churn import ChurnModel, evaluate_churn_model, kaplan_meier  # noqa: E402
from crmlab.plots.churn import calibration_plot, hazard_ratio_forest, km_plot  # noqa: E402


def test_km_plot_with_at_risk_table():
    lung = load_lung().rename(columns={"time": "duration", "status": "churned"})
    fig = km_plot(kaplan_meier(lung, "sex"), at_risk_times=[0, 250, 500, 750])
    ax, tab = fig.axes
    assert len(ax.get_lines()) >= 2
    texts = [t.get_text() for t in tab.texts]
    # R: summary(survfit(...), times = 0) at risk 138 and 90
    assert "138" in texts and "90" in texts
    plt.close(fig)


def test_forest_and_calibration_plots():
    rossi = load_rossi().rename(columns={"week": "duration", "arrest": "churned"})
    m = ChurnModel().fit(rossi)
    fig = hazard_ratio_forest(m)
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()][0] != ""
    assert len(fig.axes[0].get_yticks()) == 7
    plt.close(fig)
    rng = np.random.default_rng(0)
    p = pd.Series(rng.uniform(0, 0.6, 3000))
    y = pd.Series((rng.uniform(size=3000) < p).astype(int))
    fig = calibration_plot(evaluate_churn_model(p, y, pd.Series(rng.uniform(size=3000)), 30))
    assert "30 days" in fig.axes[0].get_xlabel()
    plt.close(fig)
