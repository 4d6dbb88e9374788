"""Engine interop: every analysis function accepts a pandas DataFrame or an Ibis table.

Heavy aggregation is written once against Ibis and runs in the engine (DuckDB by default);
only small per-customer / per-cohort results come back as pandas. A pandas input becomes an
Ibis memtable, which executes on Ibis's default backend (in-memory DuckDB).
"""
from __future__ import annotations

import ibis
import pandas as pd
from ibis.expr.types import Table


def is_ibis(obj) -> bool:
    """True when ``obj`` is an Ibis table expression."""
    return isinstance(obj, Table)


def as_table(obj, name: str = "table") -> Table:
    """Return ``obj`` as an Ibis table; ``name`` is used in the error for anything else."""
    if is_ibis(obj):
        return obj
    if isinstance(obj, pd.DataFrame):
        return ibis.memtable(obj)
    raise TypeError(
        f"{name}: expected a pandas DataFrame or an Ibis table, got {type(obj).__name__}"
    )


def to_pandas(expr) -> pd.DataFrame:
    """Execute an Ibis expression on its own backend and return pandas."""
    return expr.to_pandas()
