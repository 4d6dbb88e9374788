"""The crmlab data contract, as data.

Seven tables — ``customers``, ``orders``, ``events``, ``campaigns``, ``assignments``,
``consent_events`` and ``holdout_periods`` — with their columns, types, keys, allowed values and
meaning. The loader (:mod:`crmlab.data.io`) checks input against :data:`CONTRACT`;
``docs/data-contract.md`` is rendered from it by :func:`contract_markdown`.

Column types (``dtype``):

``id``
    int64 or string; all tables of one data set use the same type for ``customer_id`` (and for
    ``campaign_id`` between ``campaigns`` and ``assignments``).
``timestamp``
    naive local wall-clock time in the data's time zone (tz-aware input is converted).
``date``, ``float64``, ``int64``, ``boolean``, ``string``
    as named.

Examples
--------
>>> from crmlab.data.schema import CONTRACT
>>> CONTRACT["orders"].key
('order_id',)
>>> [c.name for c in CONTRACT["orders"].required_columns]
['order_id', 'customer_id', 'order_ts', 'amount']
"""
from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

TABLES: tuple[str, ...] = ("customers", "orders", "events", "campaigns", "assignments",
                           "consent_events", "holdout_periods")

SCENARIOS: tuple[str, ...] = (
    "first_purchase", "cart_reminder", "winback", "review_request", "anniversary", "custom",
)
CHANNELS: tuple[str, ...] = (
    "email", "sms", "lms", "app_push", "in_app", "kakao_alimtalk", "kakao_friendtalk",
)
EVENT_TYPES: tuple[str, ...] = (
    "visit", "product_view", "cart_add", "wishlist", "review", "support_contact",
)
CONTROL_ARM = "control"

#: Consent column a send on each channel needs. ``kakao_alimtalk`` carries informational
#: (transactional) messages only, which need no marketing consent; see docs/data-contract.md.
CHANNEL_CONSENT: dict[str, str | None] = {
    "email": "consent_email",
    "sms": "consent_sms",
    "lms": "consent_sms",
    "app_push": "consent_push",
    "in_app": "consent_push",
    "kakao_friendtalk": "consent_kakao",
    "kakao_alimtalk": None,
}
#: Consent media of the ``consent_events`` table, and the medium a send on each channel needs
#: (None: informational, no consent needed). Same grouping as :data:`CHANNEL_CONSENT`.
CONSENT_MEDIA: tuple[str, ...] = ("email", "sms", "push", "kakao")
CONSENT_KINDS: tuple[str, ...] = ("marketing", "night")
CHANNEL_MEDIUM: dict[str, str | None] = {
    "email": "email", "sms": "sms", "lms": "sms", "app_push": "push", "in_app": "push",
    "kakao_friendtalk": "kakao", "kakao_alimtalk": None,
}
#: The ``customers`` column holding today's state of each medium's marketing consent, and of
#: night consent (one flag for every medium).
MEDIUM_CONSENT_COLUMN: dict[str, str] = {m: f"consent_{m}" for m in CONSENT_MEDIA}
NIGHT_CONSENT_COLUMN = "consent_night"
#: Scenarios whose messages promote a purchase: on ``kakao_alimtalk`` (informational messages
#: only) they are flagged in the ledger.
PROMOTIONAL_SCENARIOS: tuple[str, ...] = ("first_purchase", "cart_reminder", "winback",
                                          "anniversary")
#: Channels whose sends are advertising (subject to the 21:00–08:00 night rule).
ADVERTISING_CHANNELS: tuple[str, ...] = tuple(c for c in CHANNELS if c != "kakao_alimtalk")
#: Night window for advertising sends, local time: hour >= NIGHT_START or hour < NIGHT_END.
NIGHT_START, NIGHT_END = 21, 8

DTYPES = ("id", "timestamp", "date", "float64", "int64", "boolean", "string")


@dataclass(frozen=True)
class Column:
    """One column of a contract table."""

    name: str
    dtype: str
    required: bool
    description: str
    nullable: bool = True
    allowed: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.dtype not in DTYPES:
            raise ValueError(f"unknown contract dtype {self.dtype!r} for column {self.name!r}")


@dataclass(frozen=True)
class TableSpec:
    """One contract table: its columns, key and time column."""

    name: str
    description: str
    columns: tuple[Column, ...]
    key: tuple[str, ...] = ()
    time_column: str | None = None
    needs: tuple[str, ...] = field(default=())

    @property
    def required_columns(self) -> list[Column]:
        return [c for c in self.columns if c.required]

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"{self.name} has no contract column {name!r}")


def _c(name, dtype, required, description, nullable=True, allowed=None) -> Column:
    return Column(name, dtype, required, description, nullable, allowed)


_CONSENT = "consent to {} marketing messages (null is read as no consent)"

CONTRACT: dict[str, TableSpec] = {
    "customers": TableSpec(
        name="customers",
        description="One row per customer: sign-up, profile and marketing consents.",
        key=("customer_id",),
        time_column="signup_ts",
        columns=(
            _c("customer_id", "id", True, "customer identifier (unique)", nullable=False),
            _c("signup_ts", "timestamp", True, "when the customer signed up (may be null if unknown)"),
            _c("birth_date", "date", False, "date of birth (for birthday/anniversary campaigns)"),
            _c("region", "string", False, "region of residence"),
            _c("acquisition_channel", "string", False, "how the customer was acquired"),
            _c("consent_email", "boolean", True, _CONSENT.format("e-mail")),
            _c("consent_sms", "boolean", True, _CONSENT.format("SMS/LMS")),
            _c("consent_push", "boolean", True, _CONSENT.format("app push and in-app")),
            _c("consent_kakao", "boolean", True, _CONSENT.format("Kakao FriendTalk")),
            _c("consent_night", "boolean", True,
               "consent to advertising messages between 21:00 and 08:00 local time"),
        ),
    ),
    "orders": TableSpec(
        name="orders",
        description="One row per order; refunds and returns are rows with a negative amount.",
        key=("order_id",),
        time_column="order_ts",
        columns=(
            _c("order_id", "id", True, "order identifier (unique)", nullable=False),
            _c("customer_id", "id", True, "who ordered", nullable=False),
            _c("order_ts", "timestamp", True, "when the order was placed", nullable=False),
            _c("amount", "float64", True,
               "order value in the data's currency; negative for refunds", nullable=False),
            _c("quantity", "int64", False, "number of items"),
            _c("sales_channel", "string", False, "where the order was placed (web, app, store, ...)"),
            _c("is_refund", "boolean", False, "true for refund/return rows (amount <= 0)"),
        ),
    ),
    "events": TableSpec(
        name="events",
        description="Behavioural events: visits, product views, cart adds, wishlists, reviews, "
                    "support contacts.",
        time_column="event_ts",
        columns=(
            _c("customer_id", "id", True, "whose event", nullable=False),
            _c("event_ts", "timestamp", True, "when it happened", nullable=False),
            _c("event_type", "string", True, "what happened", nullable=False, allowed=EVENT_TYPES),
            _c("product_category", "string", False, "category of the product concerned"),
        ),
    ),
    "campaigns": TableSpec(
        name="campaigns",
        description="One row per CRM campaign; each is an experiment with a randomized holdout.",
        key=("campaign_id",),
        time_column="start_ts",
        columns=(
            _c("campaign_id", "id", True, "campaign identifier (unique)", nullable=False),
            _c("name", "string", True, "human-readable name"),
            _c("scenario", "string", True, "the CRM scenario", nullable=False, allowed=SCENARIOS),
            _c("channel", "string", True, "the channel messages are sent on", nullable=False,
               allowed=CHANNELS),
            _c("cost_per_send", "float64", True, "cost of one send, in the data's currency"),
            _c("start_ts", "timestamp", True, "first moment customers may be assigned",
               nullable=False),
            _c("end_ts", "timestamp", True, "last moment customers may be assigned (inclusive)",
               nullable=False),
            _c("holdout_share", "float64", True, "planned share of the control arm (0–1)"),
            _c("description", "string", False, "free text"),
        ),
    ),
    "assignments": TableSpec(
        name="assignments",
        description="One row per customer put in an arm of a campaign; send outcomes are columns.",
        key=("campaign_id", "customer_id"),
        time_column="assigned_ts",
        needs=("campaigns",),
        columns=(
            _c("campaign_id", "id", True, "the campaign", nullable=False),
            _c("customer_id", "id", True, "the customer", nullable=False),
            _c("arm", "string", True, "the arm; 'control' is the holdout (not sent)",
               nullable=False),
            _c("assigned_ts", "timestamp", True, "when the customer was assigned (time zero)",
               nullable=False),
            _c("sent_ts", "timestamp", False, "when the message was sent (null: not sent)"),
            _c("delivered", "boolean", False, "whether the message was delivered"),
            _c("opened_ts", "timestamp", False, "when the message was opened"),
            _c("clicked_ts", "timestamp", False, "when the message was clicked"),
            _c("unsubscribed_ts", "timestamp", False, "when the customer unsubscribed after it"),
            _c("coupon_cost", "float64", False, "cost of the coupon redeemed, in the data's currency"),
        ),
    ),
    "consent_events": TableSpec(
        name="consent_events",
        description="Optional history of marketing consents: one row per grant or withdrawal "
                    "(sign-up choices included); the `customers` flags are the latest state.",
        time_column="event_ts",
        columns=(
            _c("customer_id", "id", True, "whose consent", nullable=False),
            _c("channel", "string", True, "the consent medium (lms is sms, app_push and in_app "
               "are push, kakao_friendtalk is kakao)", nullable=False, allowed=CONSENT_MEDIA),
            _c("kind", "string", True, "marketing messages, or advertising at night "
               "(21:00–08:00) on that medium", nullable=False, allowed=CONSENT_KINDS),
            _c("granted", "boolean", True, "true: consent given; false: withdrawn or refused",
               nullable=False),
            _c("event_ts", "timestamp", True, "when the choice was made", nullable=False),
        ),
    ),
    "holdout_periods": TableSpec(
        name="holdout_periods",
        description="Optional global holdout: one row per period in which a customer is kept "
                    "out of every CRM message (a customer's periods must not overlap).",
        time_column="start_ts",
        columns=(
            _c("customer_id", "id", True, "the customer held out", nullable=False),
            _c("start_ts", "timestamp", True, "first moment of the period (inclusive)",
               nullable=False),
            _c("end_ts", "timestamp", True, "end of the period (exclusive; after start_ts)",
               nullable=False),
        ),
    ),
}


def contract_frame() -> pd.DataFrame:
    """The contract as a tidy DataFrame: one row per table column.

    Examples
    --------
    >>> df = contract_frame()
    >>> df.query("table == 'orders' and required")["column"].tolist()
    ['order_id', 'customer_id', 'order_ts', 'amount']
    """
    rows = []
    for spec in CONTRACT.values():
        for c in spec.columns:
            rows.append({
                "table": spec.name, "column": c.name, "dtype": c.dtype, "required": c.required,
                "nullable": c.nullable, "key": c.name in spec.key,
                "allowed": ", ".join(c.allowed) if c.allowed else "",
                "description": c.description,
            })
    return pd.DataFrame(rows)


def contract_markdown() -> str:
    """The contract tables in Markdown (the reference part of ``docs/data-contract.md``)."""
    out = []
    for spec in CONTRACT.values():
        key = ", ".join(spec.key) if spec.key else "none (rows are not unique by contract)"
        out.append(f"### `{spec.name}`\n\n{spec.description} Key: {key}.\n")
        out.append("| column | type | required | nulls | allowed values | meaning |")
        out.append("|---|---|---|---|---|---|")
        for c in spec.columns:
            allowed = ", ".join(f"`{a}`" for a in c.allowed) if c.allowed else ""
            out.append(f"| `{c.name}` | {c.dtype} | {'yes' if c.required else 'optional'} | "
                       f"{'allowed' if c.nullable else 'error'} | {allowed} | {c.description} |")
        out.append("")
    return "\n".join(out)
