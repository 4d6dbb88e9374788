"""Real, public reference data sets shipped inside the package (no network at run time).

- :func:`load_cdnow` — CDNOW online music retailer purchases (Fader, Hardie & Lee 2005).
- :func:`load_hillstrom` — Kevin Hillstrom's MineThatData e-mail campaign (2008).
"""
from __future__ import annotations

from importlib import resources

import pandas as pd

__all__ = ["load_cdnow", "load_hillstrom"]


def _path(name: str):
    return resources.files(__name__).joinpath(name)


def load_cdnow(sample: bool = False) -> pd.DataFrame:
    """CDNOW purchases as an ``orders`` table.

    Parameters
    ----------
    sample : bool
        ``False`` (default): the master file, 69,659 purchase rows of the 23,570 customers who
        first bought in Q1 1997, followed to 1998-06-30. ``True``: the 1/10th systematic sample
        (2,357 customers, 6,919 rows) used by Fader, Hardie & Lee (2005); its ``sample_id``
        (1..2357) is kept as an extra column.

    Returns
    -------
    DataFrame with ``order_id`` (row number), ``customer_id`` (int64), ``order_ts`` (midnight of
    the purchase day), ``amount`` (US dollars) and ``quantity`` (number of CDs). Several
    purchases by one customer on one day remain separate rows, as published.

    Examples
    --------
    >>> orders = load_cdnow(sample=True)
    >>> orders.customer_id.nunique()
    2357
    """
    if sample:
        names = ["customer_id", "sample_id", "date", "quantity", "amount"]
        raw = pd.read_csv(_path("CDNOW_sample.txt.gz"), sep=r"\s+", header=None, names=names,
                          dtype={"date": str}, compression="gzip")
    else:
        raw = pd.read_csv(_path("CDNOW_master.txt.gz"), sep=r"\s+", header=0,
                          names=["customer_id", "date", "quantity", "amount"],
                          dtype={"date": str}, compression="gzip")
    out = pd.DataFrame({
        "order_id": pd.RangeIndex(1, len(raw) + 1).astype("int64"),
        "customer_id": raw["customer_id"].astype("int64"),
        "order_ts": pd.to_datetime(raw["date"], format="%Y%m%d"),
        "amount": raw["amount"].astype("float64"),
        "quantity": raw["quantity"].astype("int64"),
    })
    if sample:
        out["sample_id"] = raw["sample_id"].astype("int64")
    return out


def load_hillstrom() -> pd.DataFrame:
    """Hillstrom's e-mail campaign table as published (64,000 rows).

    ``segment`` is the arm (``Mens E-Mail``, ``Womens E-Mail``, ``No E-Mail``); ``visit`` and
    ``conversion`` are 0/1 and ``spend`` is dollars, all over the two weeks after the send.

    Examples
    --------
    >>> df = load_hillstrom()
    >>> df.segment.value_counts().sort_index().tolist()
    [21307, 21306, 21387]
    """
    return pd.read_csv(_path("hillstrom.csv.gz"), compression="gzip")
