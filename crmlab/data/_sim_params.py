"""Parameters of the simulated shop: the customer-base model, the channels and the campaigns.

All rates are per day. Money is KRW. These values are recorded in ``meta.json`` (``parameters``)
and, per campaign, in ``ground_truth.json`` (``params``), so fitted models can be checked against
the truth.
"""
from __future__ import annotations

# ---------------------------------------------------------------------------------------------
# Customer base

ACQUISITION_CHANNELS = ("organic", "search", "social", "referral", "ads")
ACQUISITION_SHARE = (0.30, 0.25, 0.18, 0.10, 0.17)
#: Probability that a sign-up of each acquisition channel ever buys on their own.
BUYER_PROBABILITY = (0.72, 0.68, 0.50, 0.76, 0.55)
#: Sign-up intensity grows linearly: density proportional to 1 + SIGNUP_GROWTH * t / T.
SIGNUP_GROWTH = 1.2

#: Sign-up to first purchase, for customers who buy on their own: a share buys within the
#: first session (exponential, mean FIRST_QUICK_MEAN days), the rest later (mean FIRST_SLOW_MEAN).
FIRST_QUICK_SHARE = 0.45
FIRST_QUICK_MEAN = 0.04
FIRST_SLOW_MEAN = 25.0

#: Pareto/NBD after the first purchase (time unit: days). Repeat purchases: Poisson with rate
#: lambda ~ Gamma(shape=r, rate=alpha); lifetime: exponential with rate mu ~ Gamma(shape=s,
#: rate=beta).
PARETO_NBD = {"r": 0.9, "alpha": 70.0, "s": 0.7, "beta": 110.0}

#: Gamma-Gamma spend per order (Fader, Hardie & Lee 2005): z ~ Gamma(shape=p, rate=nu),
#: nu ~ Gamma(shape=q, rate=gamma). Mean order value p * gamma / (q - 1) = 55,000 KRW.
GAMMA_GAMMA = {"p": 6.0, "q": 4.0, "gamma": 27_500.0}
AMOUNT_ROUNDING = 100.0
AMOUNT_MIN = 1_000.0

REFUND_PROBABILITY = 0.02
REFUND_FULL_SHARE = 0.7

SALES_CHANNELS = ("app", "mobile_web", "pc_web")
SALES_CHANNEL_SHARE = (0.55, 0.30, 0.15)

PRODUCT_CATEGORIES = ("fashion", "beauty", "food", "living", "digital", "kids", "sports", "books")
PRODUCT_CATEGORY_SHARE = (0.24, 0.18, 0.14, 0.13, 0.11, 0.08, 0.07, 0.05)

REGIONS = ("Seoul", "Gyeonggi", "Incheon", "Busan", "Daegu", "Gwangju", "Daejeon", "Ulsan",
           "Sejong", "Gangwon", "Chungbuk", "Chungnam", "Jeonbuk", "Jeonnam", "Gyeongbuk",
           "Gyeongnam", "Jeju")
REGION_SHARE = (0.19, 0.26, 0.06, 0.065, 0.045, 0.028, 0.028, 0.021, 0.008, 0.029, 0.031, 0.041,
                0.034, 0.034, 0.05, 0.063, 0.013)

#: Marketing consent rates (a shared latent makes them positively correlated).
CONSENT_RATE = {"email": 0.72, "sms": 0.58, "push": 0.45, "kakao": 0.62, "night": 0.18}
#: Consents change after sign-up (per year): a given consent is withdrawn, a refused or
#: withdrawn one is granted, each medium on its own (night consent: one choice for every
#: medium). After a campaign's unsubscribe the customer grants that medium's consent again with
#: ``regrant_after_unsubscribe`` probability, after an exponential delay (mean in days).
CONSENT_DYNAMICS = {"withdraw_per_year": 0.08, "grant_per_year": 0.05,
                    "night_withdraw_per_year": 0.10, "night_grant_per_year": 0.02,
                    "regrant_after_unsubscribe": 0.15, "regrant_mean_days": 90.0}

# ---------------------------------------------------------------------------------------------
# Behaviour on the site (events)

#: Browsing sessions per day: while exploring after sign-up (first 30 days, before buying), while
#: lurking without buying, while alive (BROWSE_ALIVE_BASE + BROWSE_ALIVE_PER_LAMBDA * lambda),
#: fading for 60 days after dropout (share of the alive rate), and long after dropout.
BROWSE = {"explore": 0.10, "explore_days": 30.0, "lurk": 0.01, "alive_base": 0.03,
          "alive_per_lambda": 2.5, "fade_share": 0.3, "fade_days": 60.0, "gone": 0.002}
SESSION_CART_PROBABILITY = 0.15      # a browsing session ends with an abandoned cart add
SESSION_WISHLIST_PROBABILITY = 0.04
DELAYED_PURCHASE_SHARE = 0.20        # cart add in an earlier session than the purchase
DELAYED_PURCHASE_MEAN = 1.2          # days between that cart add and the purchase (+3 h)
REVIEW_PROBABILITY = 0.06
SUPPORT_PROBABILITY = 0.03

# ---------------------------------------------------------------------------------------------
# Channels: delivery/open/click funnel, typical delays (hours) and cost per send (KRW)

CHANNELS = {
    "email": {"cost": 1.0, "deliver": 0.97, "open": 0.22, "click": 0.15, "open_delay_h": 6.0},
    "sms": {"cost": 10.0, "deliver": 0.98, "open": None, "click": 0.05, "open_delay_h": 1.0},
    "lms": {"cost": 30.0, "deliver": 0.98, "open": None, "click": 0.07, "open_delay_h": 1.0},
    "app_push": {"cost": 0.0, "deliver": 0.90, "open": None, "click": 0.12, "open_delay_h": 0.5},
    "kakao_alimtalk": {"cost": 8.0, "deliver": 0.97, "open": 0.65, "click": 0.20,
                       "open_delay_h": 1.0},
    "kakao_friendtalk": {"cost": 15.0, "deliver": 0.94, "open": 0.55, "click": 0.25,
                         "open_delay_h": 1.5},
}

#: A customer who unsubscribes after a send loses the channel's consent, and their repeat
#: purchase rate and dropout hazard are multiplied by these factors from then on.
UNSUBSCRIBE_EFFECT = {"rate_multiplier": 0.5, "dropout_multiplier": 4.0}

#: Response delays: a clicker buys about RESPONSE_CLICK_MEAN_H hours after the click; a
#: responder who did not click buys within the 7 days (truncated exponential, mean in days).
RESPONSE_CLICK_MEAN_H = 0.4
RESPONSE_NOCLICK_MEAN_D = 1.5

# ---------------------------------------------------------------------------------------------
# Campaigns, in the order they run. ``window``: assignment period as fractions of the usable
# span (observation days - 185, so that at least 183 days follow every campaign); ``day``: a
# one-shot campaign's day as such a fraction. Per arm: response probability of a delivered
# customer who clicked / did not click, the lasting multipliers of the repeat purchase rate
# (``k``) and of the dropout hazard (``h``) from the send on, the unsubscribe probability of a
# delivered customer and the coupon value (KRW, 0 = no coupon).

CAMPAIGNS = (
    {
        "campaign_id": "welcome_coupon", "name": "Welcome coupon (D+7)",
        "scenario": "first_purchase", "channel": "kakao_friendtalk", "holdout_share": 0.2,
        "trigger": "signup_no_purchase", "window": (0.10, 0.27),
        "description": "Kakao FriendTalk with a 3,000 KRW first-order coupon, 7 days after "
                       "sign-up, to members who have not bought yet.",
        "arms": {"coupon": {"pi_click": 0.35, "pi_noclick": 0.02, "k": 1.0, "h": 1.0,
                            "unsub": 0.004, "coupon": 3000.0}},
        "effect": "lasting: converted members start buying on their own",
    },
    {
        "campaign_id": "cart_reminder", "name": "Abandoned cart push",
        "scenario": "cart_reminder", "channel": "app_push", "holdout_share": 0.3,
        "trigger": "cart_abandon", "window": (0.28, 0.46),
        "description": "App push 3 hours after a cart add without purchase; one arm with a "
                       "2,000 KRW coupon. Sends between 21:00 and 08:00 wait until 08:00 "
                       "unless the customer consented to night messages.",
        "arms": {"reminder": {"pi_click": 0.25, "pi_noclick": 0.01, "k": 1.0, "h": 1.0,
                              "unsub": 0.0, "coupon": 0.0},
                 "reminder_coupon": {"pi_click": 0.45, "pi_noclick": 0.02, "k": 1.0, "h": 1.0,
                                     "unsub": 0.0, "coupon": 2000.0}},
        "effect": "short-term only (two treatment arms)",
    },
    {
        "campaign_id": "flash_sale_sms", "name": "Weekend flash sale SMS blast",
        "scenario": "custom", "channel": "sms", "holdout_share": 0.1,
        "trigger": "active_buyers", "day": 0.49,
        "description": "Evening SMS blast to every consenting buyer of the last 12 months.",
        "arms": {"sms": {"pi_click": 0.20, "pi_noclick": 0.002, "k": 1.0, "h": 1.0,
                         "unsub": 0.07, "coupon": 0.0}},
        "effect": "harmful: a small short-term lift, but unsubscribes raise churn",
    },
    {
        "campaign_id": "winback_lms", "name": "Win-back coupon LMS",
        "scenario": "winback", "channel": "lms", "holdout_share": 0.2,
        "trigger": "dormant_90", "day": 0.51,
        "description": "LMS with a 5,000 KRW coupon to buyers without a purchase for 90 days.",
        "arms": {"coupon": {"pi_click": 0.30, "pi_noclick": 0.015, "k": 1.3, "h": 0.7,
                            "unsub": 0.005, "coupon": 5000.0}},
        "effect": "lasting: higher purchase rate and lower dropout hazard",
    },
    {
        "campaign_id": "review_request", "name": "Review request after purchase",
        "scenario": "review_request", "channel": "kakao_alimtalk", "holdout_share": 0.1,
        "trigger": "after_purchase", "window": (0.54, 0.68),
        "description": "Kakao AlimTalk asking for a review 3 days after a purchase.",
        "arms": {"request": {"pi_click": 0.0, "pi_noclick": 0.0, "k": 1.0, "h": 1.0,
                             "unsub": 0.0, "coupon": 0.0}},
        "effect": "null on purchases (it only brings reviews)",
    },
    {
        "campaign_id": "birthday_coupon", "name": "Birthday coupon e-mail",
        "scenario": "anniversary", "channel": "email", "holdout_share": 0.25,
        "trigger": "birthday", "window": (0.70, 0.87),
        "description": "E-mail with a 5,000 KRW coupon on the member's birthday.",
        "arms": {"coupon": {"pi_click": 0.40, "pi_noclick": 0.01, "k": 1.0, "h": 0.85,
                            "unsub": 0.002, "coupon": 5000.0}},
        "effect": "lasting: short-term lift and a lower dropout hazard",
    },
)

#: Deliberate, realistic faults for the data-quality ledger to find: share of the win-back list
#: drawn from dormant buyers without SMS consent (a stale list), and share of night-time cart
#: reminders sent at once instead of waiting for 08:00.
WINBACK_STALE_LIST_SHARE = 0.02
NIGHT_SEND_LEAK = 0.03
#: The SMS blast goes out from 20:00 over this many minutes (the tail runs past 21:00).
BLAST_MINUTES = 65.0

#: Outcome definitions of the ground truth (docs/architecture.md).
CONVERSION_DAYS = 7
REVENUE_DAYS = 180
CHURN_AFTER_DAYS = 90
CHURN_HORIZON_DAYS = 180
