"""The experiment spec: one YAML file per campaign experiment, loaded and validated.

A spec says how one campaign is judged: the primary metric and its window, secondary metrics,
guardrails with thresholds, the long-term horizon (at least six months — 183 days — unless the
evaluation is marked exploratory), the churn definition, the error rates, the decision rule, the
segments to break down, the economics and the report language. ``crmlab run`` evaluates one spec
per campaign; ``crmlab new-experiment`` scaffolds a commented spec. The fields are documented in
``docs/experiment-spec.md``.

Every problem is reported as a :class:`SpecError` naming the file, the key and what is allowed;
all problems of one file are reported together.

Examples
--------
>>> from crmlab.experiments import load_spec, scaffold_spec
>>> import pathlib, tempfile
>>> path = pathlib.Path(tempfile.mkdtemp()) / "winback_2024.yaml"
>>> _ = path.write_text(scaffold_spec("winback_2024"), encoding="utf-8")
>>> spec = load_spec(path)
>>> spec.primary_metric.name, spec.primary_metric.window_days, spec.horizon_days
('conversion', 7, 183)
"""
from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Mapping

import yaml

__all__ = [
    "SpecError", "ExperimentSpec", "PrimaryMetric", "Guardrail", "DecisionRule", "Economics",
    "load_spec", "spec_from_dict", "find_specs", "scaffold_spec", "new_experiment",
    "MIN_HORIZON_DAYS", "PRIMARY_METRICS", "SECONDARY_METRICS", "GUARDRAIL_METRICS", "SEGMENTS",
    "ANALYSES", "REPORT_LANGS", "check_arm_labels",
]

#: Shortest long-term horizon (days) of a confirmatory evaluation: six months.
MIN_HORIZON_DAYS = 183
PRIMARY_METRICS = ("conversion", "revenue", "orders", "visit")
SECONDARY_METRICS = ("conversion", "revenue", "orders", "aov", "visit")
#: Guardrail metrics: unsubscribes among the sent, and blocks (a send not delivered).
GUARDRAIL_METRICS = ("unsubscribe_rate", "block_rate")
SEGMENTS = ("rfm_segment", "lifecycle_stage", "acquisition_channel", "region")
ANALYSES = ("fixed", "sequential")
REPORT_LANGS = ("en", "ko")
# fullmatch: "$" would also accept a trailing newline, which would end up in a folder name
_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


class SpecError(ValueError):
    """An experiment spec that cannot be used.

    Attributes
    ----------
    path : str or None
        The spec file.
    problems : list of (key, message)
        Every problem found; ``key`` is the dotted key (``primary_metric.name``) or ``None``.
    key : str or None
        The key of the first problem.
    """

    def __init__(self, path: str | Path | None, problems: list[tuple[str | None, str]]):
        self.path = None if path is None else str(path)
        self.problems = list(problems)
        self.key = self.problems[0][0] if self.problems else None
        where = self.path or "<spec>"
        lines = [f"{where}: " + (f"key '{k}': {m}" if k else m) for k, m in self.problems]
        if len(lines) == 1:
            message = lines[0]
        else:
            message = f"{where}: {len(lines)} problems\n  " + "\n  ".join(lines)
        super().__init__(message)


class _ItemAccess:
    """Let the nested parts of a spec be read as attributes or as ``part["key"]``."""

    def __getitem__(self, key: str) -> Any:
        if key not in {f.name for f in fields(self)}:  # type: ignore[arg-type]
            raise KeyError(key)
        return getattr(self, key)

    def get(self, key: str, default: Any = None) -> Any:
        try:
            return self[key]
        except KeyError:
            return default

    def keys(self):
        return [f.name for f in fields(self)]  # type: ignore[arg-type]

    def to_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}  # type: ignore[arg-type]


@dataclass(frozen=True)
class PrimaryMetric(_ItemAccess):
    """The primary metric: ``name`` (conversion, revenue, orders, visit) over ``window_days``."""

    name: str = "conversion"
    window_days: int = 7


@dataclass(frozen=True)
class Guardrail(_ItemAccess):
    """A guardrail: the treatment may exceed control by at most ``max_increase`` (absolute)."""

    max_increase: float


@dataclass(frozen=True)
class DecisionRule(_ItemAccess):
    """What "ship" means: every requirement set to true must hold.

    ``require_positive_roi`` requires the probability that the incremental profit is positive
    to be at least ``min_p_profitable``; ``min_ltv_lift`` requires the probability that the LTV
    lift is at least that amount to be at least ``min_p_profitable`` too. The default 0.95 is a
    one-sided test at 5% (a shipped campaign loses money with at most that chance when its
    interval holds its level); docs/campaign-evaluation.md §6 measures the alternatives.
    """

    require_primary_significant: bool = True
    min_ltv_lift: float = 0.0
    require_positive_roi: bool = True
    require_guardrails: bool = True
    min_p_profitable: float = 0.95


@dataclass(frozen=True)
class Economics(_ItemAccess):
    """Margin rate on revenue and the coupon cost per redeemed coupon (None: from the data)."""

    margin_rate: float = 0.3
    coupon_cost: float | None = None


def _default_guardrails() -> dict[str, Guardrail]:
    return {"unsubscribe_rate": Guardrail(0.005), "block_rate": Guardrail(0.005)}


@dataclass(frozen=True)
class ExperimentSpec:
    """One campaign experiment, as written in ``experiments/<campaign_id>.yaml``.

    Build it with :func:`load_spec` (from a file) or :func:`spec_from_dict`; both validate.
    ``path`` (the spec file) is not part of the spec's content: it is left out of
    :meth:`to_dict`, of equality and of :meth:`content_hash`.

    Examples
    --------
    >>> spec = spec_from_dict({"campaign_id": "cart_2024", "horizon_days": 200})
    >>> spec.horizon_days, spec.guardrails["block_rate"].max_increase
    (200, 0.005)
    """

    campaign_id: str
    title: str | None = None
    data: str | None = None
    primary_metric: PrimaryMetric = field(default_factory=PrimaryMetric)
    secondary_metrics: tuple[str, ...] = ("revenue", "aov")
    guardrails: dict[str, Guardrail] = field(default_factory=_default_guardrails)
    horizon_days: int = MIN_HORIZON_DAYS
    exploratory: bool = False
    exploratory_reason: str | None = None
    churn_after_days: int = 90
    alpha: float = 0.05
    mde: float = 0.01
    analysis: str = "fixed"
    looks: int = 1
    decision_rule: DecisionRule = field(default_factory=DecisionRule)
    segments: tuple[str, ...] = ("rfm_segment", "lifecycle_stage")
    economics: Economics = field(default_factory=Economics)
    report_lang: str = "en"
    seed: int = 0
    #: Human labels of the arms: arm id -> text, or arm id -> {en: text, ko: text}. Whether
    #: each arm exists is checked when the campaign is evaluated (the arms come from the data).
    arm_labels: dict[str, Any] = field(default_factory=dict)
    path: Path | None = field(default=None, compare=False, repr=False)
    #: A scaffold not yet filled in (``draft: true``): ``crmlab run`` skips it. Not part of the
    #: spec's content (left out of :meth:`to_dict` and :meth:`content_hash`).
    draft: bool = field(default=False, compare=False)

    def to_dict(self) -> dict:
        """The spec as plain, JSON-safe data with the YAML's keys (``path`` left out)."""
        return {
            "campaign_id": self.campaign_id,
            "title": self.title,
            "data": self.data,
            "primary_metric": self.primary_metric.to_dict(),
            "secondary_metrics": list(self.secondary_metrics),
            "guardrails": {k: v.to_dict() for k, v in self.guardrails.items()},
            "horizon_days": self.horizon_days,
            "exploratory": self.exploratory,
            "exploratory_reason": self.exploratory_reason,
            "churn_after_days": self.churn_after_days,
            "alpha": self.alpha,
            "mde": self.mde,
            "analysis": self.analysis,
            "looks": self.looks,
            "decision_rule": self.decision_rule.to_dict(),
            "segments": list(self.segments),
            "economics": self.economics.to_dict(),
            "report_lang": self.report_lang,
            "seed": self.seed,
            "arm_labels": {k: (dict(v) if isinstance(v, Mapping) else v)
                           for k, v in self.arm_labels.items()},
        }

    def content_hash(self) -> str:
        """SHA-256 of the spec's content (comments, key order and ``path`` do not count)."""
        text = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def data_dir(self, default: str | Path | None = None) -> Path | None:
        """The data directory: ``data`` relative to the spec file, else ``default``."""
        if self.data is not None:
            base = Path(self.path).parent if self.path is not None else Path.cwd()
            return (base / self.data).resolve()
        return None if default is None else Path(default).resolve()

    @property
    def is_exploratory(self) -> bool:
        return self.exploratory


# --------------------------------------------------------------------------- validation

_TOP_KEYS = [f.name for f in fields(ExperimentSpec) if f.name != "path"]


def _fmt(value: Any) -> str:
    return repr(value) if isinstance(value, str) else json.dumps(value, default=str)


def _allowed(values) -> str:
    return ", ".join(values)


class _Checker:
    def __init__(self):
        self.problems: list[tuple[str | None, str]] = []

    def add(self, key: str | None, message: str) -> None:
        self.problems.append((key, message))

    def unknown(self, prefix: str, given: Mapping, allowed: list[str]) -> None:
        for k in given:
            if k not in allowed:
                key = f"{prefix}{k}"
                hint = _closest(str(k), allowed)
                self.add(key, "unknown key" + (f" (did you mean '{hint}'?)" if hint else "")
                         + f"; allowed keys: {_allowed(allowed)}")

    def choice(self, key: str, value: Any, allowed) -> Any:
        if not isinstance(value, str) or value not in allowed:
            self.add(key, f"{_fmt(value)} is not allowed; allowed values: {_allowed(allowed)}")
        return value

    def integer(self, key: str, value: Any, minimum: int | None = None,
                maximum: int | None = None) -> Any:
        if isinstance(value, bool) or not isinstance(value, int):
            self.add(key, f"{_fmt(value)} is not allowed; expected a whole number"
                     + _range_text(minimum, maximum))
            return value
        if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
            self.add(key, f"{value} is out of range; allowed: a whole number"
                     + _range_text(minimum, maximum))
        return value

    def number(self, key: str, value: Any, low: float | None = None, high: float | None = None,
               low_open: bool = False, high_open: bool = False) -> Any:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            self.add(key, f"{_fmt(value)} is not allowed; expected a number"
                     + _interval_text(low, high, low_open, high_open))
            return value
        bad = ((low is not None and (value <= low if low_open else value < low))
               or (high is not None and (value >= high if high_open else value > high)))
        if bad:
            self.add(key, f"{value} is out of range; allowed: a number"
                     + _interval_text(low, high, low_open, high_open))
        return float(value)

    def boolean(self, key: str, value: Any) -> Any:
        if not isinstance(value, bool):
            self.add(key, f"{_fmt(value)} is not allowed; allowed values: true, false")
        return value

    def text(self, key: str, value: Any, optional: bool = True) -> Any:
        if value is None and optional:
            return None
        if not isinstance(value, str) or not value.strip():
            self.add(key, f"{_fmt(value)} is not allowed; expected a non-empty text"
                     + (" or null" if optional else ""))
        return value

    def mapping(self, key: str, value: Any) -> dict | None:
        if not isinstance(value, Mapping):
            self.add(key, f"{_fmt(value)} is not allowed; expected a mapping (key: value lines)")
            return None
        return dict(value)

    def str_list(self, key: str, value: Any, allowed) -> tuple[str, ...]:
        if not isinstance(value, (list, tuple)):
            self.add(key, f"{_fmt(value)} is not allowed; expected a list drawn from: "
                     f"{_allowed(allowed)}")
            return ()
        out = []
        for item in value:
            if not isinstance(item, str) or item not in allowed:
                self.add(key, f"{_fmt(item)} is not allowed; allowed values: {_allowed(allowed)}")
            elif item in out:
                self.add(key, f"{_fmt(item)} is listed twice")
            else:
                out.append(item)
        return tuple(out)


def _range_text(minimum, maximum) -> str:
    if minimum is not None and maximum is not None:
        return f" from {minimum} to {maximum}"
    if minimum is not None:
        return f" >= {minimum}"
    if maximum is not None:
        return f" <= {maximum}"
    return ""


def _interval_text(low, high, low_open, high_open) -> str:
    parts = []
    if low is not None:
        parts.append(f"{'>' if low_open else '>='} {low}")
    if high is not None:
        parts.append(f"{'<' if high_open else '<='} {high}")
    return (" " + " and ".join(parts)) if parts else ""


def _closest(word: str, options: list[str]) -> str | None:
    import difflib

    match = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    return match[0] if match else None


def spec_from_dict(raw: Mapping[str, Any], path: str | Path | None = None) -> ExperimentSpec:
    """Validate a spec given as a mapping (the parsed YAML) and build an :class:`ExperimentSpec`.

    Parameters
    ----------
    raw : mapping
        The spec's keys (see ``docs/experiment-spec.md``); missing keys take their defaults.
    path : str or Path, optional
        The file it came from, used in error messages and to resolve a relative ``data``.

    Raises
    ------
    SpecError
        Naming the file, every offending key and what is allowed.

    Examples
    --------
    >>> try:
    ...     spec_from_dict({"campaign_id": "x", "analysis": "bayes"})
    ... except SpecError as exc:
    ...     print(exc)
    <spec>: key 'analysis': 'bayes' is not allowed; allowed values: fixed, sequential
    """
    c = _Checker()
    if not isinstance(raw, Mapping):
        raise SpecError(path, [(None, f"the spec must be a mapping of keys to values, "
                                      f"got {type(raw).__name__}; required key: campaign_id")])
    c.unknown("", raw, _TOP_KEYS)
    defaults = ExperimentSpec(campaign_id="_").to_dict()
    draft = c.boolean("draft", raw.get("draft", False))

    def get(key: str) -> Any:
        return raw.get(key, defaults[key])

    campaign_id = raw.get("campaign_id")
    if campaign_id is None:
        c.add("campaign_id", "is required: the campaign's id as in the campaigns table")
    elif not isinstance(campaign_id, str) or not _ID_PATTERN.fullmatch(campaign_id):
        c.add("campaign_id", f"{_fmt(campaign_id)} is not allowed; expected a text of letters, "
                             "digits, '_', '-' or '.' (it names the report's folder)")
    title = c.text("title", get("title"))
    data = c.text("data", get("data"))

    primary = PrimaryMetric()
    if "primary_metric" in raw:
        pm = c.mapping("primary_metric", raw["primary_metric"])
        if pm is not None:
            c.unknown("primary_metric.", pm, ["name", "window_days"])
            name = c.choice("primary_metric.name", pm.get("name", "conversion"), PRIMARY_METRICS)
            window = c.integer("primary_metric.window_days", pm.get("window_days", 7), 1, 365)
            primary = PrimaryMetric(name, window)

    secondary = c.str_list("secondary_metrics", get("secondary_metrics") or [], SECONDARY_METRICS)

    guardrails = _default_guardrails()
    if "guardrails" in raw:
        g = raw["guardrails"]
        guardrails = {}
        if g is not None:
            gm = c.mapping("guardrails", g)
            for metric, rule in (gm or {}).items():
                key = f"guardrails.{metric}"
                if metric not in GUARDRAIL_METRICS:
                    c.add(key, f"unknown guardrail metric; allowed: {_allowed(GUARDRAIL_METRICS)}")
                    continue
                r = c.mapping(key, rule)
                if r is None:
                    continue
                c.unknown(key + ".", r, ["max_increase"])
                if "max_increase" not in r:
                    c.add(key + ".max_increase", "is required: the absolute increase over "
                                                 "control allowed (e.g. 0.005)")
                    continue
                mi = c.number(key + ".max_increase", r["max_increase"], 0, 1)
                guardrails[metric] = Guardrail(mi)

    horizon = c.integer("horizon_days", get("horizon_days"), 1, 3650)
    exploratory = c.boolean("exploratory", get("exploratory"))
    reason = get("exploratory_reason")
    if exploratory is True:
        if not isinstance(reason, str) or not reason.strip():
            c.add("exploratory_reason", "is required when exploratory is true: say in words why "
                                        "the evaluation cannot be confirmatory")
    elif reason is not None:
        c.text("exploratory_reason", reason)
    if (isinstance(horizon, int) and not isinstance(horizon, bool) and 0 < horizon
            < MIN_HORIZON_DAYS and exploratory is not True):
        c.add("horizon_days", f"{horizon} days is below the six-month ({MIN_HORIZON_DAYS}-day) "
                              "minimum of a campaign evaluation; set horizon_days to at least "
                              f"{MIN_HORIZON_DAYS}, or set exploratory: true with an "
                              "exploratory_reason to run a shorter, exploratory evaluation")
    churn_after = c.integer("churn_after_days", get("churn_after_days"), 1, 3650)
    alpha = c.number("alpha", get("alpha"), 0, 0.5, low_open=True, high_open=False)
    mde = c.number("mde", get("mde"), 0, None, low_open=True)
    analysis = c.choice("analysis", get("analysis"), ANALYSES)
    looks = c.integer("looks", get("looks"), 1, 100)
    if isinstance(looks, int) and not isinstance(looks, bool):
        if analysis == "fixed" and looks != 1:
            c.add("looks", f"{looks} is not allowed with analysis: fixed (one look); "
                           "allowed: 1, or set analysis: sequential")
        if analysis == "sequential" and looks < 2:
            c.add("looks", f"{looks} is not allowed with analysis: sequential; allowed: a whole "
                           "number from 2 to 100 (the planned looks)")

    rule = DecisionRule()
    if "decision_rule" in raw:
        dr = c.mapping("decision_rule", raw["decision_rule"])
        if dr is not None:
            names = [f.name for f in fields(DecisionRule)]
            c.unknown("decision_rule.", dr, names)
            base = DecisionRule()
            rule = DecisionRule(
                require_primary_significant=c.boolean(
                    "decision_rule.require_primary_significant",
                    dr.get("require_primary_significant", base.require_primary_significant)),
                min_ltv_lift=c.number("decision_rule.min_ltv_lift",
                                      dr.get("min_ltv_lift", base.min_ltv_lift)),
                require_positive_roi=c.boolean("decision_rule.require_positive_roi",
                                               dr.get("require_positive_roi",
                                                      base.require_positive_roi)),
                require_guardrails=c.boolean("decision_rule.require_guardrails",
                                             dr.get("require_guardrails", base.require_guardrails)),
                min_p_profitable=c.number("decision_rule.min_p_profitable",
                                          dr.get("min_p_profitable", base.min_p_profitable),
                                          0, 1, low_open=True, high_open=True),
            )

    segments = c.str_list("segments", get("segments") or [], SEGMENTS)

    econ = Economics()
    if "economics" in raw:
        e = c.mapping("economics", raw["economics"])
        if e is not None:
            c.unknown("economics.", e, ["margin_rate", "coupon_cost"])
            margin = c.number("economics.margin_rate", e.get("margin_rate", 0.3), 0, 1,
                              low_open=True)
            coupon = e.get("coupon_cost")
            if coupon is not None:
                coupon = c.number("economics.coupon_cost", coupon, 0, None)
            econ = Economics(margin, coupon)

    lang = c.choice("report_lang", get("report_lang"), REPORT_LANGS)
    seed = c.integer("seed", get("seed"), 0, 2**32 - 1)
    arm_labels = _arm_labels(c, raw.get("arm_labels"))

    if c.problems:
        raise SpecError(path, c.problems)
    return ExperimentSpec(
        campaign_id=campaign_id, title=title, data=data, primary_metric=primary,
        secondary_metrics=secondary, guardrails=guardrails, horizon_days=horizon,
        exploratory=exploratory, exploratory_reason=reason if exploratory else None,
        churn_after_days=churn_after, alpha=alpha, mde=mde, analysis=analysis, looks=looks,
        decision_rule=rule, segments=segments, economics=econ, report_lang=lang, seed=seed,
        arm_labels=arm_labels, path=None if path is None else Path(path).resolve(), draft=draft,
    )


#: Longest arm label: it is shown in table columns and the portfolio.
MAX_ARM_LABEL = 60


def _arm_labels(c: "_Checker", value: Any) -> dict[str, Any]:
    """``arm_labels``: arm id -> text, or arm id -> {en: text, ko: text} (either language may
    be left out; the other, then the id, stands in)."""
    if value is None:
        return {}
    m = c.mapping("arm_labels", value)
    if m is None:
        return {}
    out: dict[str, Any] = {}

    def label(key: str, text: Any) -> str | None:
        if not isinstance(text, str) or not text.strip():
            c.add(key, f"{_fmt(text)} is not allowed; expected a non-empty text (the arm's "
                       "label)")
            return None
        if len(text.strip()) > MAX_ARM_LABEL or "\n" in text.strip():
            c.add(key, f"{_fmt(text)} is not allowed; expected one line of at most "
                       f"{MAX_ARM_LABEL} characters")
            return None
        return text.strip()

    for arm, entry in m.items():
        key = f"arm_labels.{arm}"
        if not isinstance(arm, str) or not arm.strip():
            c.add(key, f"{_fmt(arm)} is not allowed as an arm id; expected the arm's id as "
                       "text, as in assignments.arm (quote it in YAML if it looks like a "
                       "number)")
            continue
        if isinstance(entry, Mapping):
            if not entry:
                c.add(key, "an empty mapping is not allowed; expected a text, or a mapping "
                           "of language to text "
                           f"({_allowed(REPORT_LANGS)})")
                continue
            c.unknown(key + ".", entry, list(REPORT_LANGS))
            texts = {lg: label(f"{key}.{lg}", entry[lg]) for lg in REPORT_LANGS if lg in entry}
            if all(v is not None for v in texts.values()) and texts:
                out[arm] = texts
        else:
            if not isinstance(entry, str):
                c.add(key, f"{_fmt(entry)} is not allowed; expected a text, or a mapping of "
                           f"language to text ({_allowed(REPORT_LANGS)}), e.g. "
                           "{en: Coupon, ko: 쿠폰}")
                continue
            text = label(key, entry)
            if text is not None:
                out[arm] = text
    return out


def check_arm_labels(spec: Any, arms, campaign_id: Any = None) -> None:
    """Refuse ``arm_labels`` naming an arm the campaign does not have (a typo would otherwise
    leave the arm unlabelled without a word). ``spec``: an :class:`ExperimentSpec` or its
    dict; ``arms``: the campaign's arm ids from the data."""
    labels = (spec.get("arm_labels") if isinstance(spec, Mapping)
              else getattr(spec, "arm_labels", None)) or {}
    known = [str(a) for a in arms]
    unknown = [a for a in labels if str(a) not in known]
    if unknown:
        path = spec.get("path") if isinstance(spec, Mapping) else getattr(spec, "path", None)
        who = f"campaign {campaign_id!r}" if campaign_id is not None else "the campaign"
        raise SpecError(path, [(f"arm_labels.{a}", f"{who} has no arm {a!r} in "
                                                   f"assignments.arm; its arms: "
                                                   f"{_allowed(known)}") for a in unknown])


class _SpecLoader(yaml.SafeLoader):
    """YAML's safe loader that refuses a key given twice in one mapping (plain YAML keeps the
    last value silently, so a second ``alpha:`` further down would win unnoticed)."""

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, Any] = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    first = seen.get(key)
                except TypeError:  # an unhashable key: SafeLoader reports it
                    continue
                if first is not None:
                    raise yaml.constructor.ConstructorError(
                        f"while reading the mapping at line {node.start_mark.line + 1}",
                        node.start_mark,
                        f"duplicate key {key!r} (first given at line {first.line + 1}); "
                        "keep one", key_node.start_mark)
                seen[key] = key_node.start_mark
        return super().construct_mapping(node, deep=deep)


def _parse_yaml(text: str) -> Any:
    return yaml.load(text, Loader=_SpecLoader)  # noqa: S506 - a SafeLoader subclass


def load_spec(path: str | Path) -> ExperimentSpec:
    """Read and validate one spec file.

    Parameters
    ----------
    path : str or Path
        ``experiments/<campaign_id>.yaml``.

    Returns
    -------
    ExperimentSpec

    Raises
    ------
    SpecError
        The file is missing, is not valid YAML, or a key or value is not allowed (the message
        names the file, the key and what is allowed).

    Examples
    --------
    >>> spec = load_spec("experiments/winback.yaml")  # doctest: +SKIP
    >>> spec.campaign_id  # doctest: +SKIP
    'winback'
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError(path, [(None, "file not found")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(path, [(None, f"cannot be read: {exc}")]) from None
    try:
        raw = _parse_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise SpecError(path, [(None, f"not valid YAML{where}: {problem}")]) from None
    if raw is None:
        raise SpecError(path, [(None, "the file is empty; required key: campaign_id")])
    return spec_from_dict(raw, path=path)


def find_specs(directory: str | Path) -> list[Path]:
    """The spec files (``*.yaml``, ``*.yml``) of a directory, sorted by name.

    Examples
    --------
    >>> find_specs("experiments")  # doctest: +SKIP
    [PosixPath('experiments/cart_reminder_2024.yaml'), ...]
    """
    directory = Path(directory)
    if directory.is_file():
        return [directory]
    if not directory.is_dir():
        raise FileNotFoundError(f"experiments directory not found: {directory}")
    return sorted(p for p in directory.iterdir()
                  if p.suffix in (".yaml", ".yml") and p.is_file() and not p.name.startswith("."))


# --------------------------------------------------------------------------- scaffolding

_SCAFFOLD = """\
# Experiment spec for campaign {campaign_id}: how `crmlab run` evaluates it.
# Every key is optional except campaign_id; the values shown are the defaults.
# Reference: docs/experiment-spec.md

# A draft is listed by `crmlab list` and skipped by `crmlab run`: delete this line (or set it
# to false) once the campaign is in the data and the keys below say how to judge it.
draft: true

campaign_id: {campaign_id}     # must exist in the data's campaigns table
title: {title}                 # display name (null: the campaign's name)
data: {data}                   # data directory relative to this file (null: `crmlab run --data`)

# Short-term outcome judged first: conversion | revenue | orders | visit,
# counted in [assigned_ts, assigned_ts + window_days).
primary_metric:
  name: conversion
  window_days: 7
# Also reported (same window): conversion, revenue, orders, aov, visit
secondary_metrics: [revenue, aov]

# Guardrails: treatment minus control may rise by at most max_increase (absolute).
# block = a send not delivered; the holdout gets no sends (block rate 0), so for block_rate
# max_increase is the share of sends the channel may fail to deliver (often 0.02-0.10).
guardrails:
  unsubscribe_rate: {{max_increase: 0.005}}
  block_rate: {{max_increase: 0.005}}

# Long-term evaluation: retention, churn and LTV over horizon_days after assignment.
# Below 183 days (six months) the spec is refused unless exploratory: true with a reason.
horizon_days: 183               # six months
exploratory: false
exploratory_reason: null
churn_after_days: 90           # churned = no purchase for this many days

alpha: 0.05                    # two-sided error rate of the intervals and tests
mde: 0.01                      # minimum detectable effect, absolute on the primary metric
analysis: fixed                # fixed | sequential
looks: 1                       # planned looks (>= 2 for sequential)

# What "ship" means: every requirement must hold.
decision_rule:
  require_primary_significant: true   # primary lift CI above 0
  min_ltv_lift: 0.0                   # P(LTV lift >= this, currency units) >= min_p_profitable
  require_positive_roi: true          # P(incremental profit > 0) >= min_p_profitable
  require_guardrails: true            # every judged guardrail shown within its allowance
  min_p_profitable: 0.95              # the probability the two lines above need

# Heterogeneity: rfm_segment, lifecycle_stage, acquisition_channel, region
segments: [rfm_segment, lifecycle_stage]

economics:
  margin_rate: 0.3             # share of revenue kept as margin
  coupon_cost: null            # per redeemed coupon; null = assignments.coupon_cost

report_lang: en                # en | ko
seed: 0                        # bootstrap and other random draws

# Labels of the arms in the report (arm id as in assignments.arm), e.g.
#   arm_labels: {{coupon: {{en: Coupon, ko: 쿠폰}}, control: {{en: Holdout, ko: 대조군}}}}
arm_labels: {{}}
"""


def scaffold_spec(campaign_id: str, title: str | None = None, data: str | None = None) -> str:
    """The text of a commented spec with every key at its default.

    Parameters
    ----------
    campaign_id : str
        The campaign's id (letters, digits, ``_``, ``-``, ``.``).
    title, data : str, optional
        Display name and data directory (relative to the spec file).

    Examples
    --------
    >>> print(scaffold_spec("winback_2024").splitlines()[0])
    # Experiment spec for campaign winback_2024: how `crmlab run` evaluates it.
    """
    if not isinstance(campaign_id, str) or not _ID_PATTERN.fullmatch(campaign_id):
        raise SpecError(None, [("campaign_id", f"{_fmt(campaign_id)} is not allowed; expected a "
                                               "text of letters, digits, '_', '-' or '.'")])
    q = lambda v: "null" if v is None else json.dumps(v, ensure_ascii=False)  # noqa: E731
    return _SCAFFOLD.format(campaign_id=campaign_id, title=q(title), data=q(data))


def new_experiment(campaign_id: str, directory: str | Path = "experiments",
                   title: str | None = None, data: str | None = None,
                   overwrite: bool = False) -> Path:
    """Write ``<directory>/<campaign_id>.yaml`` from :func:`scaffold_spec` and return its path.

    Raises ``FileExistsError`` when the file exists and ``overwrite`` is false.

    Examples
    --------
    >>> new_experiment("winback_2024", "experiments")  # doctest: +SKIP
    PosixPath('experiments/winback_2024.yaml')
    """
    text = scaffold_spec(campaign_id, title=title, data=data)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{campaign_id}.yaml"
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists; pass --force to overwrite it")
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    import os

    os.replace(tmp, path)
    load_spec(path)  # the scaffold is always a valid spec
    return path
