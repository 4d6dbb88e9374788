"""Shared fixtures: a small simulated shop (session-scoped) and the repository root."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

SMALL_SHOP = dict(n_customers=3000, months=24, seed=7)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def small_shop_dir(tmp_path_factory) -> Path:
    """A 3,000-customer, 24-month simulated shop written once per test session."""
    from crmlab.data.simulate import simulate

    out = tmp_path_factory.mktemp("small_shop")
    return Path(simulate(out, **SMALL_SHOP))


@pytest.fixture(scope="session")
def small_shop(small_shop_dir):
    """The small simulated shop loaded as CRMData."""
    import crmlab

    return crmlab.load(small_shop_dir)


@pytest.fixture(scope="session")
def small_shop_truth(small_shop_dir) -> dict:
    """The campaigns' entries of ground_truth.json (``program`` holds the program's truth)."""
    truth = json.loads((small_shop_dir / "ground_truth.json").read_text())
    return {k: v for k, v in truth.items() if k != "program"}
