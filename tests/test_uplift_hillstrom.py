"""Real data: on Hillstrom's e-mail campaign, the held-out Qini of the women's e-mail is above
random with its bootstrap interval, and the learned best version differs by customer group."""
from __future__ import annotations

import numpy as np
import pytest

from crmlab.uplift.hillstrom import hillstrom_frame, hillstrom_uplift


@pytest.fixture(scope="module")
def result():
    return hillstrom_uplift(outcome="visit", learner="dr", n_boot=100, n_threads=1)


def test_heldout_qini_above_random(result):
    s = result.scores.set_index("arm")
    assert set(s.index) == {"mens_email", "womens_email"}
    w = s.loc["womens_email"]
    assert w.n_holdout > 20_000
    # the interval of the model's Qini coefficient lies above 0 (random targeting) ...
    assert w.low > 0 and w.qini > w.random_qini
    # ... and the random ordering's interval covers 0
    assert w.random_low < 0 < w.random_high
    # published average effects of the send on visits: +7.7 pt (men's), +4.5 pt (women's)
    assert s.loc["mens_email", "ate"] == pytest.approx(0.077, abs=0.01)
    assert s.loc["womens_email", "ate"] == pytest.approx(0.045, abs=0.01)


def test_which_email_to_whom(result):
    who = result.who.set_index(["bought", "newbie"])
    shares = who[[c for c in who.columns if c in ("control", "mens_email", "womens_email")]]
    np.testing.assert_allclose(shares.sum(axis=1), 1.0)
    # customers who bought only men's merchandise: the men's e-mail is best for most of them
    assert (shares.xs("mens only", level="bought")["mens_email"] > 0.9).all()
    # the women's e-mail is chosen more often for women's-only buyers than for men's-only
    assert (shares.xs("womens only", level="bought")["womens_email"].mean()
            > shares.xs("mens only", level="bought")["womens_email"].mean())


def test_frame():
    X, arm, Y = hillstrom_frame()
    assert len(X) == 64_000 and set(arm) == {"control", "mens_email", "womens_email"}
    assert str(X.channel.dtype) == "category" and list(Y.columns) == ["visit", "conversion",
                                                                      "spend"]
