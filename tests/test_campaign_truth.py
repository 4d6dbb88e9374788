"""Acceptance: on the simulated shop, the evaluation recovers the true campaign effects.

``ground_truth.json`` records, per campaign and treatment arm, the exact effect in the realised
sample (both potential outcomes simulated with common random numbers): the conversion lift
within 7 days, the hazard ratio of the page's endpoint (reactivation of customers lapsed at
assignment, or churn observed when the gap reaches C = 90 days; followed 180 days) and the
revenue lift over 180 days — the shared definitions of docs/architecture.md, which the
evaluation uses with ``horizon_days=180``.

Each interval is a 95% interval (or stricter, Bonferroni across arms), so a few misses are
expected: the test counts misses over every campaign x arm x effect of the simulated shops and
allows what a binomial(K, 0.05) count exceeds only with probability < 1%. The default run
uses the session's small shop; the ``slow`` test adds a second seed. The revenue intervals
fall about one point short of 95% on small holdouts (docs/campaign-evaluation.md §3), which
this allowance absorbs; a wrong estimator does not pass it.
"""
from __future__ import annotations

import json
import warnings

import pytest
from scipy import stats

import crmlab
from crmlab.campaign import evaluate

SEEDS = (7, 11)   # 7 is the session's small shop (tests/conftest.py)


def _checks(data, truth):
    rows = []
    for cid, g in truth.items():
        if cid == "program":          # the program's truth (tests/test_program.py)
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ev = evaluate(data, dict(campaign_id=cid, horizon_days=180, exploratory=True,
                                     exploratory_reason="checked against the ground truth",
                                     segments=[], seed=0), n_boot=1000)
        pr = ev.primary.set_index("arm")
        lt = ev.long_term.set_index("arm")
        for arm, tr in g["arms"].items():
            rows.append((cid, arm, "conversion_lift", tr["conversion_lift"],
                         pr.loc[arm, "ci_low"], pr.loc[arm, "ci_high"]))
            # the page's endpoint: reactivation (mostly lapsed audience) or churn observed
            # when the gap reaches 90 days (docs/campaign-evaluation.md)
            key = ("reactivation" if ev.endpoint == "reactivation" else "churn_observed")
            rows.append((cid, arm, "endpoint_hazard_ratio", tr[f"{key}_hazard_ratio"],
                         lt.loc[arm, "hr_ci_low"], lt.loc[arm, "hr_ci_high"]))
            rows.append((cid, arm, "revenue_lift_180d", tr["revenue_lift_180d"],
                         lt.loc[arm, "ltv_ci_low"], lt.loc[arm, "ltv_ci_high"]))
    return rows


def _assert_coverage(checks):
    misses = [r for r in checks if not (r[4] <= r[3] <= r[5])]
    allowed = int(stats.binom.ppf(0.99, len(checks), 0.05))
    assert len(misses) <= allowed, (
        f"{len(misses)} of {len(checks)} true effects outside their 95% intervals "
        f"(allowed {allowed}): " + "; ".join(f"{c}/{a} {m}: truth {t:.4g} not in "
                                             f"[{lo:.4g}, {hi:.4g}]"
                                             for c, a, m, t, lo, hi in misses))


@pytest.fixture(scope="module")
def checks(small_shop, small_shop_truth):
    return _checks(small_shop, small_shop_truth)


def test_every_campaign_and_effect_is_checked(checks, small_shop_truth):
    arms = sum(len(g["arms"]) for k, g in small_shop_truth.items() if k != "program")
    assert len(checks) == 3 * arms >= 18
    assert {r[2] for r in checks} == {"conversion_lift", "endpoint_hazard_ratio",
                                      "revenue_lift_180d"}


def test_true_effects_lie_within_the_intervals_as_often_as_their_level_says(checks):
    _assert_coverage(checks)


@pytest.mark.slow
def test_coverage_over_one_more_shop(checks, tmp_path_factory):
    from crmlab.data.simulate import simulate

    rows = list(checks)
    for seed in SEEDS[1:]:
        path = simulate(tmp_path_factory.mktemp(f"shop_{seed}"), n_customers=3000, months=24,
                        seed=seed)
        rows += _checks(crmlab.load(path), json.loads((path / "ground_truth.json").read_text()))
    _assert_coverage(rows)
