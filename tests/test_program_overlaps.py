"""Interactions of overlapping campaigns: the simulator plants one (a customer delivered the
season Kakao coupon does not respond to the season push that follows) and no other."""
from __future__ import annotations

import numpy as np
import pytest

import crmlab
from crmlab.data import _sim_program as PG
from crmlab.data.simulate import simulate
from crmlab.program import overlaps
from crmlab.program.overlaps import holm

PLANTED = {"season_sale_push", "season_sale_kakao"}


def _exaggerated(monkeypatch):
    """The push answered far more often (the planted interaction removes all of it among the
    Kakao coupon's recipients), so that a small shop shows it."""
    camps = []
    for c in PG.CAMPAIGNS:
        c = dict(c)
        if c["campaign_id"] == "season_sale_push":
            c["arms"] = {"reminder": {**c["arms"]["reminder"], "pi_click": 1.0,
                                      "pi_noclick": 0.6}}
        camps.append(c)
    monkeypatch.setattr(PG, "CAMPAIGNS", tuple(camps))


def _planted(df):
    return df[df.apply(lambda r: {r.campaign_a, r.campaign_b} == PLANTED, axis=1)]


def test_planted_interaction_is_detected_and_no_other(tmp_path, monkeypatch):
    _exaggerated(monkeypatch)
    found, others = 0, []
    for s in (1, 2):
        data = crmlab.load(simulate(tmp_path / f"s{s}", n_customers=3000, months=24, seed=s))
        df = overlaps(data).to_frame()
        conv = df[df.outcome == "conversion"]
        p = _planted(conv).iloc[0]
        assert p.campaign_a == "season_sale_push" and p.interaction < 0
        assert p.effect_a_in_b_control > 0.2
        found += bool(p.flagged)
        others += list(conv[~conv.index.isin(_planted(conv).index)].flagged)
    assert found == 2
    assert len(others) >= 4 and not any(others)


def test_holm_matches_the_textbook_example():
    # Holm (1979) step-down: sorted p 0.01, 0.02, 0.03, 0.04 with m = 4
    np.testing.assert_allclose(holm([0.03, 0.01, 0.04, 0.02]), [0.06, 0.04, 0.06, 0.06])
    assert np.isnan(holm([np.nan, 0.5])[0])


@pytest.mark.slow
def test_planted_interaction_at_its_natural_size_and_false_positives(tmp_path):
    """At the simulator's own push response the interaction needs a large shop."""
    found, others = 0, []
    for s in (201, 202):
        data = crmlab.load(simulate(tmp_path / f"s{s}", n_customers=60_000, months=24, seed=s))
        conv = overlaps(data).to_frame().query("outcome == 'conversion'")
        found += bool(_planted(conv).flagged.iloc[0])
        others += list(conv[~conv.index.isin(_planted(conv).index)].flagged)
    assert found == 2
    assert np.mean(others) <= 0.1
