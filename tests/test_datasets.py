"""The bundled real data sets load as published."""
from __future__ import annotations

import pandas as pd

from crmlab.datasets import load_cdnow, load_hillstrom


def test_cdnow_master_rows_and_customers():
    orders = load_cdnow()
    assert len(orders) == 69_659
    assert orders.customer_id.nunique() == 23_570
    assert orders.order_ts.min() == pd.Timestamp("1997-01-01")
    assert orders.order_ts.max() == pd.Timestamp("1998-06-30")
    # every customer's first purchase falls in Q1 1997 (the cohort definition of the data set)
    first = orders.groupby("customer_id").order_ts.min()
    assert first.max() < pd.Timestamp("1997-04-01")
    assert orders.order_id.is_unique


def test_cdnow_sample_matches_the_papers():
    orders = load_cdnow(sample=True)
    assert len(orders) == 6_919
    assert orders.customer_id.nunique() == 2_357
    assert orders.sample_id.min() == 1 and orders.sample_id.max() == 2_357


def test_hillstrom_published_counts_and_rates():
    df = load_hillstrom()
    assert len(df) == 64_000
    counts = df.segment.value_counts()
    assert counts.to_dict() == {"Womens E-Mail": 21_387, "Mens E-Mail": 21_307, "No E-Mail": 21_306}
    # published per-arm conversion rates of the MineThatData challenge
    rates = df.groupby("segment").conversion.mean()
    assert round(rates["Mens E-Mail"], 4) == 0.0125
    assert round(rates["Womens E-Mail"], 4) == 0.0088
    assert round(rates["No E-Mail"], 4) == 0.0057
