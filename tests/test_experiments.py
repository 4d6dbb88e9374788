"""The experiment spec: loading, defaults, and the error messages for bad specs."""
from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from crmlab.experiments import (
    MIN_HORIZON_DAYS, ExperimentSpec, SpecError, find_specs, load_spec, new_experiment,
    scaffold_spec, spec_from_dict,
)


def write(tmp_path: Path, text: str, name: str = "camp.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_minimal_spec_takes_the_documented_defaults(tmp_path):
    spec = load_spec(write(tmp_path, "campaign_id: winback_2024\n"))
    assert isinstance(spec, ExperimentSpec)
    assert spec.campaign_id == "winback_2024"
    assert spec.primary_metric.name == "conversion" and spec.primary_metric.window_days == 7
    assert spec.primary_metric["window_days"] == 7          # nested parts read both ways
    assert spec.secondary_metrics == ("revenue", "aov")
    assert spec.guardrails["unsubscribe_rate"].max_increase == 0.005
    assert spec.guardrails["block_rate"]["max_increase"] == 0.005
    assert spec.horizon_days == MIN_HORIZON_DAYS == 183
    assert (spec.exploratory, spec.exploratory_reason) == (False, None)
    assert (spec.churn_after_days, spec.alpha, spec.mde) == (90, 0.05, 0.01)
    assert (spec.analysis, spec.looks) == ("fixed", 1)
    assert spec.decision_rule.require_primary_significant is True
    assert spec.decision_rule.min_ltv_lift == 0.0
    assert spec.segments == ("rfm_segment", "lifecycle_stage")
    assert spec.economics.margin_rate == 0.3 and spec.economics.coupon_cost is None
    assert (spec.report_lang, spec.seed) == ("en", 0)
    assert spec.path == (tmp_path / "camp.yaml").resolve()


def test_full_spec_round_trips_through_to_dict(tmp_path):
    path = write(tmp_path, """
        campaign_id: cart_2024
        title: Cart reminder, spring
        data: ../data/demo
        primary_metric: {name: revenue, window_days: 14}
        secondary_metrics: [conversion, orders, visit]
        guardrails:
          unsubscribe_rate: {max_increase: 0.002}
        horizon_days: 365
        churn_after_days: 60
        alpha: 0.1
        mde: 500
        analysis: sequential
        looks: 4
        decision_rule: {require_primary_significant: false, min_ltv_lift: 1000}
        segments: [region]
        economics: {margin_rate: 0.25, coupon_cost: 3000}
        report_lang: ko
        seed: 42
    """)
    spec = load_spec(path)
    d = spec.to_dict()
    assert d["primary_metric"] == {"name": "revenue", "window_days": 14}
    assert d["guardrails"] == {"unsubscribe_rate": {"max_increase": 0.002}}
    assert d["decision_rule"] == {"require_primary_significant": False, "min_ltv_lift": 1000.0,
                                  "require_positive_roi": True, "require_guardrails": True,
                                  "min_p_profitable": 0.95}
    assert d["economics"] == {"margin_rate": 0.25, "coupon_cost": 3000.0}
    assert spec.data_dir() == (tmp_path / "../data/demo").resolve()
    json.dumps(d)                                   # JSON-safe
    again = spec_from_dict(d, path=path)
    assert again == spec and again.content_hash() == spec.content_hash()


def test_content_hash_ignores_comments_and_key_order_but_not_values(tmp_path):
    a = load_spec(write(tmp_path, "campaign_id: x\nalpha: 0.05\nseed: 1\n", "a.yaml"))
    b = load_spec(write(tmp_path, "# note\nseed: 1   # seeded\ncampaign_id: x\n", "b.yaml"))
    c = load_spec(write(tmp_path, "campaign_id: x\nseed: 2\n", "c.yaml"))
    assert a.content_hash() == b.content_hash() != c.content_hash()


def test_data_dir_defaults_to_the_runners(tmp_path):
    spec = load_spec(write(tmp_path, "campaign_id: x\n"))
    assert spec.data_dir() is None
    assert spec.data_dir(tmp_path / "d") == (tmp_path / "d").resolve()


# Each bad spec: (yaml text, the key named, fragments the message must contain)
BAD_SPECS = [
    ("campaign_id: x\nhorizon: 200\n", "horizon",
     ["unknown key", "did you mean 'horizon_days'", "allowed keys:"]),
    ("title: no id\n", "campaign_id", ["is required"]),
    ("campaign_id: 'has space'\n", "campaign_id", ["not allowed", "letters, digits"]),
    ("campaign_id: 12\n", "campaign_id", ["12 is not allowed"]),
    ("campaign_id: x\nprimary_metric: {name: clicks}\n", "primary_metric.name",
     ["'clicks' is not allowed", "allowed values: conversion, revenue, orders, visit"]),
    ("campaign_id: x\nprimary_metric: {window_days: 0}\n", "primary_metric.window_days",
     ["out of range", "from 1 to 365"]),
    ("campaign_id: x\nprimary_metric: {window_days: 7.5}\n", "primary_metric.window_days",
     ["7.5 is not allowed", "whole number"]),
    ("campaign_id: x\nprimary_metric: {name: conversion, window: 7}\n", "primary_metric.window",
     ["unknown key", "allowed keys: name, window_days"]),
    ("campaign_id: x\nprimary_metric: conversion\n", "primary_metric", ["expected a mapping"]),
    ("campaign_id: x\nsecondary_metrics: [revenue, ctr]\n", "secondary_metrics",
     ["'ctr' is not allowed", "conversion, revenue, orders, aov, visit"]),
    ("campaign_id: x\nsecondary_metrics: revenue\n", "secondary_metrics", ["expected a list"]),
    ("campaign_id: x\nsecondary_metrics: [aov, aov]\n", "secondary_metrics", ["listed twice"]),
    ("campaign_id: x\nguardrails: {complaint_rate: {max_increase: 0.01}}\n",
     "guardrails.complaint_rate", ["unknown guardrail metric", "unsubscribe_rate, block_rate"]),
    ("campaign_id: x\nguardrails: {block_rate: {max_increase: -0.1}}\n",
     "guardrails.block_rate.max_increase", ["out of range", ">= 0"]),
    ("campaign_id: x\nguardrails: {block_rate: {}}\n", "guardrails.block_rate.max_increase",
     ["is required"]),
    ("campaign_id: x\nguardrails: {block_rate: {max_increase: 0.1, min: 0}}\n",
     "guardrails.block_rate.min", ["unknown key"]),
    ("campaign_id: x\nhorizon_days: '200'\n", "horizon_days", ["'200' is not allowed"]),
    ("campaign_id: x\nexploratory: yes please\n", "exploratory",
     ["not allowed", "allowed values: true, false"]),
    ("campaign_id: x\nhorizon_days: 90\nexploratory: true\n", "exploratory_reason",
     ["is required when exploratory is true"]),
    ("campaign_id: x\nchurn_after_days: 0\n", "churn_after_days", ["out of range"]),
    ("campaign_id: x\nalpha: 0\n", "alpha", ["out of range", "> 0", "<= 0.5"]),
    ("campaign_id: x\nalpha: 0.9\n", "alpha", ["out of range"]),
    ("campaign_id: x\nalpha: .nan\n", "alpha", ["expected a number"]),
    ("campaign_id: x\nmde: -0.01\n", "mde", ["out of range", "> 0"]),
    ("campaign_id: x\nanalysis: bayesian\n", "analysis",
     ["'bayesian' is not allowed", "allowed values: fixed, sequential"]),
    ("campaign_id: x\nlooks: 3\n", "looks", ["not allowed with analysis: fixed"]),
    ("campaign_id: x\nanalysis: sequential\n", "looks", ["not allowed with analysis: sequential"]),
    ("campaign_id: x\ndecision_rule: {require_roi: true}\n", "decision_rule.require_roi",
     ["unknown key", "require_positive_roi"]),
    ("campaign_id: x\ndecision_rule: {require_guardrails: 1}\n",
     "decision_rule.require_guardrails", ["1 is not allowed", "true, false"]),
    ("campaign_id: x\nsegments: [rfm_segment, age]\n", "segments",
     ["'age' is not allowed", "rfm_segment, lifecycle_stage, acquisition_channel, region"]),
    ("campaign_id: x\neconomics: {margin_rate: 1.5}\n", "economics.margin_rate",
     ["out of range", "<= 1"]),
    ("campaign_id: x\neconomics: {coupon_cost: -5}\n", "economics.coupon_cost", ["out of range"]),
    ("campaign_id: x\neconomics: {margin: 0.3}\n", "economics.margin",
     ["unknown key", "margin_rate, coupon_cost"]),
    ("campaign_id: x\nreport_lang: fr\n", "report_lang",
     ["'fr' is not allowed", "allowed values: en, ko"]),
    ("campaign_id: x\nseed: -1\n", "seed", ["out of range"]),
    ("campaign_id: x\nseed: true\n", "seed", ["true is not allowed", "whole number"]),
]


@pytest.mark.parametrize("text,key,fragments", BAD_SPECS, ids=[b[1] + str(i)
                                                               for i, b in enumerate(BAD_SPECS)])
def test_bad_spec_names_file_key_and_what_is_allowed(tmp_path, text, key, fragments):
    path = write(tmp_path, text, "bad_spec.yaml")
    with pytest.raises(SpecError) as info:
        load_spec(path)
    err = info.value
    message = str(err)
    assert str(path) in message                       # the file
    assert f"key '{key}'" in message                  # the key
    assert key in [k for k, _ in err.problems]
    for fragment in fragments:                        # what is wrong / what is allowed
        assert fragment in message, (fragment, message)
    assert isinstance(err, ValueError)


def test_every_problem_of_a_file_is_reported_together(tmp_path):
    path = write(tmp_path, "campaign_id: x\nalpha: 2\nreport_lang: de\nfoo: 1\n")
    with pytest.raises(SpecError) as info:
        load_spec(path)
    keys = [k for k, _ in info.value.problems]
    assert set(keys) == {"alpha", "report_lang", "foo"}
    assert "3 problems" in str(info.value)


def test_ninety_day_horizon_is_refused_naming_the_six_month_minimum(tmp_path):
    path = write(tmp_path, "campaign_id: x\nhorizon_days: 90\n")
    with pytest.raises(SpecError) as info:
        load_spec(path)
    msg = str(info.value)
    assert info.value.key == "horizon_days"
    assert "90 days is below the six-month (183-day) minimum" in msg
    assert "exploratory: true" in msg
    # 182 still refused, 183 accepted
    with pytest.raises(SpecError):
        spec_from_dict({"campaign_id": "x", "horizon_days": 182})
    assert spec_from_dict({"campaign_id": "x", "horizon_days": 183}).horizon_days == 183


def test_short_horizon_allowed_when_exploratory_with_a_reason(tmp_path):
    spec = load_spec(write(tmp_path, """
        campaign_id: x
        horizon_days: 90
        exploratory: true
        exploratory_reason: the campaign ended three months before the data cut-off
    """))
    assert spec.exploratory and spec.horizon_days == 90
    assert spec.exploratory_reason.startswith("the campaign ended")


@pytest.mark.parametrize("text,fragment", [
    ("", "the file is empty"),
    ("- a\n- b\n", "must be a mapping"),
    ("campaign_id: [unclosed\n", "not valid YAML at line"),
])
def test_unreadable_files(tmp_path, text, fragment):
    path = write(tmp_path, text)
    with pytest.raises(SpecError, match=fragment) as info:
        load_spec(path)
    assert str(path) in str(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(SpecError, match="file not found"):
        load_spec(tmp_path / "nope.yaml")


def test_scaffold_is_a_valid_commented_spec_with_every_key(tmp_path):
    import yaml

    text = scaffold_spec("welcome_2025", title="Welcome coupon")
    assert text.count("#") > 20                        # commented
    raw = yaml.safe_load(text)
    assert set(raw) == set(ExperimentSpec(campaign_id="_").to_dict()) | {"draft"}  # every key
    assert raw["draft"] is True                        # skipped by `crmlab run` until filled in
    spec = spec_from_dict(raw)
    assert spec.title == "Welcome coupon"
    assert spec.to_dict() == {**ExperimentSpec(campaign_id="welcome_2025").to_dict(),
                              "title": "Welcome coupon"}                # shows the defaults


def test_new_experiment_writes_and_refuses_to_overwrite(tmp_path):
    path = new_experiment("bday_2025", tmp_path / "experiments")
    assert path == tmp_path / "experiments" / "bday_2025.yaml"
    assert load_spec(path).campaign_id == "bday_2025"
    with pytest.raises(FileExistsError, match="exists"):
        new_experiment("bday_2025", tmp_path / "experiments")
    new_experiment("bday_2025", tmp_path / "experiments", overwrite=True)
    with pytest.raises(SpecError, match="campaign_id"):
        new_experiment("bad id", tmp_path / "experiments")


def test_find_specs_sorted_yaml_only(tmp_path):
    for name in ("b.yaml", "a.yml", "notes.txt", ".hidden.yaml"):
        (tmp_path / name).write_text("campaign_id: x\n")
    assert [p.name for p in find_specs(tmp_path)] == ["a.yml", "b.yaml"]
    with pytest.raises(FileNotFoundError):
        find_specs(tmp_path / "missing")


def test_shipped_demo_specs_are_valid(repo_root):
    specs = find_specs(repo_root / "experiments")
    ids = [load_spec(p).campaign_id for p in specs]
    assert len(ids) == len(set(ids))
    for p in specs:
        assert load_spec(p).campaign_id == p.stem        # file named after its campaign


def test_demo_specs_name_the_simulated_campaigns(repo_root, small_shop_dir):
    import pandas as pd

    campaigns = set(pd.read_parquet(small_shop_dir / "campaigns.parquet")["campaign_id"])
    specs = [load_spec(p) for p in find_specs(repo_root / "experiments")]
    spec_ids = {s.campaign_id for s in specs if not s.draft}  # drafts: `crmlab new-experiment`
    assert spec_ids == campaigns          # one spec per simulated campaign, none extra


@pytest.mark.parametrize("cid", ["abc\n", "abc\r\n", "a b", "\nabc", "abc\x00"])
def test_campaign_id_must_match_in_full(cid, tmp_path):
    with pytest.raises(SpecError, match="campaign_id"):
        spec_from_dict({"campaign_id": cid})
    with pytest.raises(SpecError, match="campaign_id"):
        new_experiment(cid, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_trailing_newline_in_a_yaml_campaign_id_is_refused(tmp_path):
    path = tmp_path / "abc.yaml"
    path.write_text('campaign_id: "abc\\n"\n', encoding="utf-8")
    with pytest.raises(SpecError, match="campaign_id"):
        load_spec(path)


def test_duplicate_yaml_keys_name_the_key_and_lines(tmp_path):
    path = tmp_path / "dup.yaml"
    path.write_text("campaign_id: dup\nalpha: 0.05\nmde: 0.01\nalpha: 0.2\n", encoding="utf-8")
    with pytest.raises(SpecError) as exc:
        load_spec(path)
    msg = str(exc.value)
    assert str(path) in msg
    assert "duplicate key 'alpha'" in msg and "line 4" in msg and "first given at line 2" in msg
    nested = tmp_path / "nested.yaml"
    nested.write_text("campaign_id: n\ndecision_rule:\n  min_ltv_lift: 1\n"
                      "  min_ltv_lift: 2\n", encoding="utf-8")
    with pytest.raises(SpecError, match="duplicate key 'min_ltv_lift'.*first given at line 3"):
        load_spec(nested)
    merged = tmp_path / "merged.yaml"  # a YAML merge key overridden on purpose is no duplicate
    merged.write_text("campaign_id: m\nbase: &b {margin_rate: 0.3}\n", encoding="utf-8")
    with pytest.raises(SpecError, match="unknown key"):  # `base` is not a spec key
        load_spec(merged)
    ok = tmp_path / "ok.yaml"
    ok.write_text("campaign_id: ok\neconomics:\n  <<: {margin_rate: 0.3}\n  margin_rate: 0.4\n",
                  encoding="utf-8")
    assert load_spec(ok).economics.margin_rate == 0.4


def test_scaffold_is_a_draft_and_draft_is_not_content(tmp_path):
    path = new_experiment("spring_2026", tmp_path)
    spec = load_spec(path)
    assert spec.draft is True
    filled = tmp_path / "filled.yaml"
    filled.write_text(path.read_text().replace("draft: true", "draft: false"), encoding="utf-8")
    done = load_spec(filled)
    assert done.draft is False
    assert done == spec and done.content_hash() == spec.content_hash()
    assert "draft" not in done.to_dict()
    with pytest.raises(SpecError, match="'draft'"):
        spec_from_dict({"campaign_id": "x", "draft": "yes"})


def test_arm_labels_take_a_text_or_a_text_per_language():
    spec = spec_from_dict({"campaign_id": "x", "arm_labels": {
        "coupon": {"en": "Coupon", "ko": "쿠폰"}, "sms": " 문자 발송 ",
        "reminder": {"ko": "리마인더"}}})
    assert spec.arm_labels == {"coupon": {"en": "Coupon", "ko": "쿠폰"}, "sms": "문자 발송",
                               "reminder": {"ko": "리마인더"}}
    assert spec.to_dict()["arm_labels"] == spec.arm_labels          # part of the content
    other = spec_from_dict({"campaign_id": "x", "arm_labels": {"coupon": "Coupon"}})
    assert other.content_hash() != spec.content_hash()
    assert spec_from_dict({"campaign_id": "x", "arm_labels": None}).arm_labels == {}


@pytest.mark.parametrize("labels,key,message", [
    (["coupon"], "arm_labels", "expected a mapping"),
    ({"coupon": {"fr": "Coupon"}}, "arm_labels.coupon.fr", "unknown key; allowed keys: en, ko"),
    ({"coupon": 3}, "arm_labels.coupon", "expected a text, or a mapping of language to text"),
    ({1: "x"}, "arm_labels.1", "quote it in YAML"),
    ({"coupon": "  "}, "arm_labels.coupon", "expected a non-empty text"),
    ({"coupon": {}}, "arm_labels.coupon", "an empty mapping is not allowed"),
    ({"coupon": {"ko": None}}, "arm_labels.coupon.ko", "expected a non-empty text"),
    ({"coupon": "x" * 61}, "arm_labels.coupon", "at most 60 characters"),
    ({"coupon": "a\nb"}, "arm_labels.coupon", "one line"),
])
def test_arm_labels_of_a_bad_shape_are_refused(labels, key, message):
    with pytest.raises(SpecError) as info:
        spec_from_dict({"campaign_id": "x", "arm_labels": labels})
    assert info.value.key == key and message in str(info.value)


def test_arm_labels_naming_no_arm_of_the_campaign_are_refused():
    from crmlab.experiments import check_arm_labels

    spec = spec_from_dict({"campaign_id": "x",
                           "arm_labels": {"cupon": "쿠폰", "control": "대조군"}},
                          path="experiments/x.yaml")
    check_arm_labels(spec, ["control", "cupon"])
    with pytest.raises(SpecError) as info:
        check_arm_labels(spec, ["control", "coupon"], "x")
    assert info.value.key == "arm_labels.cupon"
    assert "campaign 'x' has no arm 'cupon'" in str(info.value)
    assert "its arms: control, coupon" in str(info.value) and "x.yaml" in str(info.value)
    check_arm_labels(spec.to_dict() | {"arm_labels": {}}, ["control"])
