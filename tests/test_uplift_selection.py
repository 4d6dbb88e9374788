"""Expected incremental profit and the audience for a budget or a threshold, per arm."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crmlab.uplift import expected_profit, select_audience


def test_profit_formula_per_arm():
    up = pd.DataFrame({"reminder": [0.02, 0.00], "coupon": [0.10, 0.01]})
    p = pd.DataFrame({"reminder": [0.3, 0.5], "coupon": [0.4, 0.6]})
    out = expected_profit(up, margin=20_000, send_cost={"reminder": 0, "coupon": 10},
                          coupon_value={"reminder": 0, "coupon": 2000}, p_redeem=p)
    # uplift * margin - send cost - coupon value * P(redeem)
    assert out["reminder"].tolist() == [400.0, 0.0]
    assert out["coupon"].tolist() == pytest.approx([2000 - 10 - 800, 200 - 10 - 1200])


def test_audience_best_arm_threshold_budget_and_ids():
    profit = pd.DataFrame({"reminder": [400.0, 0.0, 50.0, 300.0],
                           "coupon": [1190.0, -1010.0, 80.0, 100.0]})
    cost = pd.DataFrame({"reminder": [0.0, 0.0, 0.0, 0.0], "coupon": [810.0, 1210.0, 500.0, 10.0]})
    aud = select_audience(profit, cost=cost, customer_id=[11, 12, 13, 14])
    t = aud.table
    assert t.customer_id.tolist() == [11, 14, 13]          # customer 12: nothing pays
    assert t.arm.tolist() == ["coupon", "reminder", "coupon"]
    assert aud.summary.set_index("arm").loc["coupon", "customers"] == 2
    # a budget of 900 KRW of expected spend: the first (810) fits, the third (500) does not
    small = select_audience(profit, cost=cost, budget=900, customer_id=[11, 12, 13, 14])
    assert small.table.customer_id.tolist() == [11, 14]
    assert small.summary.expected_cost.sum() == pytest.approx(810.0)     # 14: reminder, free
    # a higher threshold
    assert select_audience(profit, min_profit=350).table.arm.tolist() == ["coupon"]
    assert "customer_id" not in select_audience(profit).table


def test_bad_input():
    up = pd.DataFrame({"coupon": [0.1]})
    with pytest.raises(ValueError, match="p_redeem: needed"):
        expected_profit(up, margin=1, coupon_value=100)
    with pytest.raises(ValueError, match="margin: no value for arm"):
        expected_profit(up, margin={"sms": 1.0})
    with pytest.raises(ValueError, match="budget"):
        select_audience(up, budget=-1)
    with pytest.raises(ValueError, match="customer_id: 2 ids for 1 rows"):
        select_audience(up, customer_id=[1, 2])
    with pytest.raises(ValueError, match="1 rows have no value"):
        select_audience(pd.DataFrame({"a": [np.nan]}))
