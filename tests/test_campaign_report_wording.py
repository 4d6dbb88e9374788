"""The campaign report's words as a reader meets them: probabilities never read as a
certainty, Korean amounts in won, one name per pre-period covariate, plain English and Korean
in the sentences the demo campaigns show."""
from __future__ import annotations

import dataclasses
import html
import re
from pathlib import Path

import pytest

from crmlab import i18n
from crmlab.campaign import narration, report

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def evs(small_shop):
    """cart_reminder (two arms, a coupon) and winback_lms (reactivation page) on the small
    shop, in English and in Korean."""
    from crmlab.campaign import evaluate
    from crmlab.experiments import load_spec

    out = {}
    for cid in ("cart_reminder", "winback_lms"):
        spec = load_spec(ROOT / f"experiments/{cid}.yaml")
        for lang in ("en", "ko"):
            out[cid, lang] = evaluate(small_shop, spec, lang=lang, n_boot=50)
    return out


def _with_p(ev, p):
    """``ev`` whose arms' probability of a profit is ``p``, its sentences written anew."""
    econ = ev.economics.assign(p_profitable=p)
    verdict = dataclasses.replace(ev.verdict, findings=[
        {**f, "p": p} if str(f.get("code", "")).startswith("profit.")
        and f["code"] != "profit.costs" else f for f in ev.verdict.findings])
    out = dataclasses.replace(ev, economics=econ, verdict=verdict)
    return narration.narrate(out)


def test_probability_of_a_profit_never_reads_as_a_certainty(evs):
    assert [i18n.prob(p) for p in (0.9996, 0.0001, 0.874, None)] == [">99%", "<1%", "87%", "—"]
    for lang in ("en", "ko"):
        ev = _with_p(evs["winback_lms", lang], 0.99991)
        keys = html.unescape(report.key_numbers_html(ev))
        texts = [keys, report.economics(ev),
                 report.economics_table(ev).to_string(), *ev.verdict.reasons]
        for text in texts:
            assert "100%" not in text, text
        assert ">99%" in keys
        assert ">99%" in report.economics(ev)
        assert ">99%" in report.economics_table(ev).to_string()
        profit = [r for r, f in zip(ev.verdict.reasons, ev.verdict.findings)
                  if f["code"] in ("profit.pays", "profit.unclear", "profit.likely")]
        assert profit and all(">99%" in r for r in profit)


def test_korean_sentences_write_won_as_the_verdict_does(evs):
    """A Korean page's sentences read amounts in 원 (만 원 from a million on), never ₩; the
    tables keep the exact figures."""
    ev = evs["winback_lms", "ko"]
    for section in (report.short_term(ev), report.long_term(ev), report.economics(ev)):
        assert "₩" not in section, section
        assert "원" in section
    assert "₩" in report.short_term_table(ev).to_string()
    # the English page is unchanged: the currency's symbol
    en = evs["winback_lms", "en"]
    assert "₩" in report.short_term(en) and "원" not in report.short_term(en)
    amount = ev.long_term["ltv_lift"].iloc[0]
    assert i18n.money(amount, ev.currency, True, lang="ko") in report.long_term(ev)


def test_plain_english_and_the_srm_threshold(evs):
    ev = evs["cart_reminder", "en"]
    long = report.long_term(ev)
    assert "below 1 = less churn" in long and "fewer churn" not in long
    why = narration.t("why.no_channel_baseline", "en")
    assert why.startswith("the holdout receives no message, and other campaigns sent too few")
    finding = {"code": "guard.not_judged", "arm": "coupon", "metric": "block_rate",
               "why": "no_channel_baseline", "lift": None, "ci_low": None, "ci_high": None,
               "alpha": 0.05, "threshold": 0.05}
    assert "too few messages on this channel to give its usual rate" in narration.finding_text(
        finding, "en", "KRW")
    # a split that passes the SRM check is "consistent with" the plan, and the page says at
    # which p-value a mismatch would be flagged
    for lang, said in (("en", "consistent with the planned holdout share"),
                       ("ko", "벗어났다고 볼 근거가 없습니다")):
        e = dataclasses.replace(ev, lang=lang,
                                integrity={**ev.integrity, "srm_p_value": 0.032,
                                           "srm_flag": False})
        text = report.integrity(e)
        assert said in text and "0.032" in text and "0.001" in text, text
        bad = dataclasses.replace(e, integrity={**e.integrity, "srm_p_value": 0.0002,
                                                "srm_flag": True})
        assert "0.001" in report.integrity(bad) and said not in report.integrity(bad)


def test_one_name_per_covariate_and_a_list_of_them_reads_unambiguously(evs):
    from crmlab.campaign.narration.labels import COVARIATES
    from crmlab.campaign.narration.texts import TEXT

    for cov, names in COVARIATES.items():
        assert "," not in names["en"] and "," not in names["ko"], names
        assert TEXT[f"cov.{cov}"]["en"] == names["en"]      # the sentence's name is the table's
    ev = evs["cart_reminder", "en"]
    table = report.short_term_table(ev)
    adjusted = [c for c in table.iloc[:, -1] if c != "—"]
    assert adjusted
    for cell in adjusted:   # every listed name is a covariate's name, and nothing else
        assert set(cell.split(", ")) <= {n["en"] for n in COVARIATES.values()}, cell
    balance = set(report.balance_table(ev).iloc[:, 0])
    words = re.findall(r"\(([^;()]+); regression adjustment", report.short_term(ev))
    assert words and all(set(w.split(", ")) <= balance for w in words), (words, balance)


def test_korean_counts_carry_their_counter(evs):
    ev = evs["cart_reminder", "ko"]
    head = report.header(ev)
    n = int(ev.audience["n"].iloc[0])
    assert re.search(rf"대조군 {n:,}명\(\d+\.\d%\)", head), head
    en = report.header(evs["cart_reminder", "en"])
    assert re.search(rf"holdout {n:,} \(\d+\.\d%\)", en) and "명" not in en


def test_data_quality_introduces_its_table_last(evs):
    """The sentence that introduces the flagged rows ("Rows flagged ...:") comes right before
    the table, after the statistics' notes."""
    ev = evs["winback_lms", "en"]
    notes = [{"code": "block_rate_no_baseline", "sends": 0, "channel": "lms", "min_sends": 100}]
    for lang in ("en", "ko"):
        e = dataclasses.replace(ev, lang=lang, notes=notes)
        text = report.data_quality(e)
        intro = i18n.t("report.quality_intro", lang)
        assert text.endswith(intro), text
        assert text.index(i18n.t("report.notes_intro", lang)) < text.index(intro)


def test_figures_name_arms_as_the_text_does(evs):
    """The legends and axis labels of the report's figures use the spec's arm labels (the
    Korean label on a Korean page), never the arm id."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from crmlab.plots import campaign as figures

    for lang in ("en", "ko"):
        ev = evs["cart_reminder", lang]
        want = {narration.arm_label(a, lang, ev.spec) for a in ev.audience["arm"]}
        assert "reminder_coupon" not in want
        for draw in (figures.retention_by_arm, figures.cumulative_revenue_by_arm,
                     figures.funnel):
            legend = {t.get_text() for t in draw(ev).axes[0].get_legend().get_texts()}
            assert legend == want, (draw.__name__, legend)
        ticks = " ".join(t.get_text() for t in figures.lift_forest(ev).axes[0].get_yticklabels())
        assert "reminder_coupon" not in ticks
        assert narration.arm_label("reminder_coupon", lang, ev.spec) in ticks
        plt.close("all")


def test_provenance_shows_no_empty_finish(evs):
    """A report is written before its run ends: no "Finished —" row; a known finish shows."""
    ev = evs["winback_lms", "en"]
    prov = {"crmlab_version": "0.1.0", "started_at": "2026-01-01T00:00:00", "finished_at": None}
    items = list(report.provenance_table(ev, prov).iloc[:, 0])
    assert "Started" in items and "Finished" not in items
    done = report.provenance_table(ev, {**prov, "finished_at": "2026-01-01T00:01:00"})
    assert dict(zip(done.iloc[:, 0], done.iloc[:, 1]))["Finished"] == "2026-01-01T00:01:00"
