"""Real, public reference data sets shipped inside the package (no network at run time).

- :func:`load_cdnow` — CDNOW online music retailer purchases (Fader, Hardie & Lee 2005).
- :func:`load_hillstrom` — Kevin Hillstrom's MineThatData e-mail campaign (2008).
- :func:`load_donations` — the donations summary of Fader, Hardie & Shang (2010), BG/BB data.
- :func:`demo_data` — the simulated demo shop (:mod:`crmlab.data.simulate`), cached on disk.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from importlib import resources
from pathlib import Path

import pandas as pd

__all__ = ["load_cdnow", "load_hillstrom", "load_donations", "demo_data", "demo_data_dir"]

#: Size of the demo shop when neither the argument nor ``CRMLAB_DEMO_CUSTOMERS`` says otherwise.
DEMO_CUSTOMERS = 50_000
_SHOP_FILES = ("customers.parquet", "orders.parquet", "events.parquet", "campaigns.parquet",
               "assignments.parquet", "consent_events.parquet", "holdout_periods.parquet",
               "meta.json", "ground_truth.json", "ground_truth_effects.parquet")


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


def load_donations() -> pd.DataFrame:
    """The 1995 cohort of first-time supporters of a US non-profit (11,104 donors) by
    repeat-donation pattern over the next six annual opportunities: the data of Fader, Hardie &
    Shang (2010), "Customer-Base Analysis in a Discrete-Time Noncontractual Setting" (Marketing
    Science), where the BG/BB model is introduced.

    Returns
    -------
    DataFrame of 22 rows: ``frequency`` (repeat donations), ``recency`` (year of the last one,
    0 without any), ``periods`` (6 opportunities) and ``weights`` (donors with that pattern).

    Examples
    --------
    >>> d = load_donations()
    >>> int(d.weights.sum()), len(d)
    (11104, 22)
    """
    return pd.read_csv(_path("donations_summary.csv.gz"), compression="gzip").astype("int64")


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


def _repo_root(start: Path | None = None) -> Path | None:
    """Nearest ancestor of ``start`` (default: the working directory) holding crmlab's
    ``pyproject.toml``."""
    here = (start or Path.cwd()).resolve()
    for d in (here, *here.parents):
        f = d / "pyproject.toml"
        if f.is_file():
            try:
                text = f.read_text(encoding="utf-8")
            except OSError:
                continue
            if any(line.replace(" ", "") in ('name="crmlab"', "name='crmlab'")
                   for line in text.splitlines()):
                return d
    return None


def _demo_size(n_customers: int | None) -> int:
    if n_customers is not None:
        n = int(n_customers)
    else:
        raw = os.environ.get("CRMLAB_DEMO_CUSTOMERS", "").strip()
        try:
            n = int(raw) if raw else DEMO_CUSTOMERS
        except ValueError:
            raise ValueError(f"CRMLAB_DEMO_CUSTOMERS must be a whole number of customers, got "
                             f"{raw!r}") from None
    if n < 100:
        raise ValueError(f"demo_data: the demo shop needs at least 100 customers, got {n}")
    return n


def demo_data_dir(n_customers: int | None = None, seed: int = 0, path=None) -> Path:
    """Directory of the cached simulated demo shop, simulating it first when absent.

    Parameters
    ----------
    n_customers : int, optional
        Shop size; default ``$CRMLAB_DEMO_CUSTOMERS``, else 50,000.
    seed : int
        Simulation seed (default 0).
    path : str or Path, optional
        Directory of the shop. Default: ``<base>/demo`` for the default shop (50,000 customers,
        seed 0) and ``<base>/demo-<n>-s<seed>`` otherwise, where ``<base>`` is
        ``$CRMLAB_DATA_DIR`` if set, else ``data/`` under the crmlab repository root (the
        nearest ancestor of the working directory whose ``pyproject.toml`` names the project
        ``crmlab``), else ``~/.cache/crmlab``.

    Returns
    -------
    Path
        A directory holding the six contract tables, ``meta.json`` and ``ground_truth.json``
        (24 months from 2024-01-01). The shop is simulated into a temporary sibling directory and renamed
        into place, so concurrent callers never see a half-written shop. A cached shop written
        by another version of the simulator (``meta.json`` → ``generator_fingerprint``) is
        simulated again and replaced.

    Examples
    --------
    >>> d = demo_data_dir(n_customers=2000, path="/tmp/crmlab-demo-2000")   # doctest: +SKIP
    >>> (d / "ground_truth.json").exists()                                  # doctest: +SKIP
    True
    """
    n = _demo_size(n_customers)
    seed = int(seed)
    if path is not None:
        target = Path(path)
    else:
        if os.environ.get("CRMLAB_DATA_DIR", "").strip():
            base = Path(os.environ["CRMLAB_DATA_DIR"].strip())
        else:
            root = _repo_root()
            base = root / "data" if root is not None else Path.home() / ".cache" / "crmlab"
        name = "demo" if (n == DEMO_CUSTOMERS and seed == 0) else f"demo-{n}-s{seed}"
        target = base / name
    if _complete(target, n, seed):
        return target
    stale = _stale(target, n, seed)
    if target.exists() and any(target.iterdir()) and not stale:
        meta = _read_meta(target) or {}
        raise ValueError(
            f"demo_data: {target} is not empty and does not hold the simulated shop of {n} "
            f"customers (seed {seed}) (found n_customers={meta.get('n_customers')}, "
            f"seed={meta.get('seed')}); pass another path= or remove the directory")
    from crmlab.data.simulate import simulate

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    trash = target.parent / f".{target.name}.stale-{os.getpid()}"
    try:
        simulate(tmp, n_customers=n, seed=seed)
        if stale:
            # the same shop written by another version of the simulator: replace it
            try:
                os.rename(target, trash)
            except OSError:
                pass                                  # another process moved it already
        try:
            if target.exists() and not any(target.iterdir()):
                target.rmdir()
            os.rename(tmp, target)            # atomic; fails if another process got there first
        except OSError:
            if not _complete(target, n, seed):
                raise
    finally:
        for d in (tmp, trash):
            if d.exists():
                shutil.rmtree(d, ignore_errors=True)
    return target


def _read_meta(d: Path) -> dict | None:
    import json

    try:
        return json.loads((d / "meta.json").read_text())
    except (OSError, ValueError):
        return None


def _same_shop(d: Path, n: int, seed: int) -> dict | None:
    """meta.json of ``d`` if it holds a simulated shop of this size and seed (any version; an
    older version may have written fewer files)."""
    meta = _read_meta(d)
    if not meta or meta.get("generator") != "crmlab.data.simulate":
        return None
    return meta if (meta.get("n_customers"), meta.get("seed")) == (n, seed) else None


def _complete(d: Path, n: int, seed: int) -> bool:
    """``d`` holds this shop, written by this version of the simulator."""
    from crmlab.data.simulate import generator_fingerprint

    meta = _same_shop(d, n, seed)
    return (meta is not None and meta.get("generator_fingerprint") == generator_fingerprint()
            and all((d / f).is_file() for f in _SHOP_FILES))


def _stale(d: Path, n: int, seed: int) -> bool:
    """``d`` holds this shop, written by another version of the simulator."""
    return _same_shop(d, n, seed) is not None and not _complete(d, n, seed)


def demo_data(n_customers: int | None = None, seed: int = 0, path=None):
    """The simulated demo shop, loaded: a :class:`crmlab.CRMData`.

    Simulates the shop on first use (about 10 s of CPU for 50,000 customers) and reads it from the
    cache afterwards; see :func:`demo_data_dir` for the size and the cache location. The known
    true campaign effects are in ``ground_truth.json`` beside the tables.

    Examples
    --------
    >>> from crmlab.datasets import demo_data
    >>> data = demo_data()                        # doctest: +SKIP
    >>> data.currency, str(data.observation_end)  # doctest: +SKIP
    ('KRW', '2026-01-01 00:00:00')
    """
    from crmlab.data.io import load

    return load(demo_data_dir(n_customers=n_customers, seed=seed, path=path))
