"""Engine interop: every analysis function accepts a DataFrame, a file or an Ibis table.

Heavy aggregation is written once against Ibis and runs in the engine (DuckDB by default);
only small per-customer / per-cohort results come back as pandas.

Input forms (:func:`as_table`):

- an Ibis table is used as it is (any backend);
- a pandas DataFrame is converted **once** to an Arrow table, column by column without a
  Python-level pass where the dtype says what the values are (numbers, timestamps, ``string``
  dtype with either storage, categoricals: zero-copy or one vectorised copy); object columns are
  read as text with the type given up front (no schema inference over the values), and only an
  object column that does not hold text falls back to Arrow's inference. The Arrow table
  becomes an Ibis memtable, which DuckDB scans in place (in parallel) on every query, on
  whichever backend the expression runs;
- a path to a Parquet file (or a directory of Parquet parts), a CSV file (``.csv``,
  ``.csv.gz``, ``.tsv``) or a DuckDB database file (``.duckdb``, ``.ddb``, ``.db``; the table
  named after the argument, e.g. ``orders``) is scanned by crmlab's own in-memory DuckDB.

Timestamps: tz-aware pandas columns become naive wall-clock time in their own time zone (the
project's convention: naive local time); nanosecond timestamps are truncated to microseconds,
the engine's resolution.
"""
from __future__ import annotations

import os
import sys
import threading
import weakref
from pathlib import Path

import ibis
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from ibis.expr.types import Table

_CSV_SUFFIXES = (".csv", ".csv.gz", ".tsv", ".tsv.gz")
_DUCKDB_SUFFIXES = (".duckdb", ".ddb", ".db")
_lock = threading.Lock()
_con = None  # crmlab's own in-memory DuckDB for file inputs (created on first use)


def is_ibis(obj) -> bool:
    """True when ``obj`` is an Ibis table expression."""
    return isinstance(obj, Table)


def is_path(obj) -> bool:
    """True when ``obj`` is a file path (str or os.PathLike)."""
    return isinstance(obj, (str, os.PathLike))


def as_table(obj, name: str = "table", columns=None, optional=()) -> Table:
    """Return ``obj`` as an Ibis table; ``name`` names the table in errors.

    ``obj`` is an Ibis table, a pandas DataFrame or a path (see the module docstring).
    ``columns`` (optional) are the columns the caller reads and ``optional`` those it reads when
    present: when every one of ``columns`` is in a DataFrame, only these (and the present
    ``optional`` ones) are converted, so unused text columns cost nothing. Otherwise every
    column is kept, so the caller's missing-column error can list them all.
    """
    if is_ibis(obj):
        return obj
    if isinstance(obj, pd.DataFrame):
        return memtable(to_arrow(obj, name, columns=_keep(obj.columns, columns, optional)))
    if is_path(obj):
        return read_file(obj, name, columns, optional)
    raise TypeError(
        f"{name}: expected a pandas DataFrame, an Ibis table or a path to a Parquet, CSV or "
        f"DuckDB file, got {type(obj).__name__}"
    )


def as_coded_table(obj, key: str, name: str = "table", columns=None, optional=()):
    """:func:`as_table`, with a DataFrame's text or categorical ``key`` column as int32 codes.

    Returns ``(table, ids)``. For a pandas DataFrame whose ``key`` column holds text (object,
    ``string`` dtype of either storage) or is categorical, the column reaches the engine as
    int32 codes (nulls stay null) and ``ids`` (:class:`IdCodes`) maps codes back to the values:
    grouping on 4-byte integers instead of text is the cheaper hash aggregation, and only the
    per-key result is decoded. The codes come from one vectorised factorisation (a categorical's
    own codes cost nothing). For every other input ``ids`` is None and the table is
    :func:`as_table`'s. Only for callers that read ``key`` from this one table; tables joined
    on ``key`` share their codes through :func:`as_coded_tables`.
    """
    tables, ids = as_coded_tables({name: obj}, key, {name: (columns, optional)})
    return tables[name], ids


def as_coded_tables(objs: dict, key: str, reads: dict | None = None):
    """:func:`as_coded_table` for tables joined on ``key``: one set of codes for all of them.

    ``objs`` maps table names to inputs (None entries are passed through as None); ``reads``
    optionally maps a name to its ``(columns, optional)`` (see :func:`as_table`). Returns
    ``(tables, ids)``: the Ibis tables by name and the :class:`IdCodes` shared by every
    table's ``key``, so that joins on the codes join the same customers as joins on the ids.
    The codes come from one factorisation over the union of the tables' distinct ids. Codes
    are used only when every given table is a DataFrame whose ``key`` is text or categorical
    of one value type; otherwise (a file or an Ibis table among them, integer ids, text ids in
    one table and integers in another) ``ids`` is None and every table is :func:`as_table`'s,
    exactly as without codes.
    """
    reads = reads or {}
    given = {n: o for n, o in objs.items() if o is not None}

    def plain():
        return {n: (None if o is None else as_table(o, n, *reads.get(n, (None, ()))))
                for n, o in objs.items()}, None

    if not given or not all(isinstance(o, pd.DataFrame) and key in o.columns
                            for o in given.values()):
        return plain()
    raw = {}
    for n, o in given.items():
        r = _raw_codes(o[key])
        if r is None:
            return plain()
        raw[n] = r
    shared = _shared_codes(list(raw.values()))
    if shared is None:
        return plain()
    codes, ids = shared
    out = {}
    for (n, o), c in zip(given.items(), codes):
        columns, optional = reads.get(n, (None, ()))
        keep = _keep(o.columns, columns, optional) or list(o.columns)
        rest = to_arrow(o, n, columns=[c_ for c_ in keep if c_ != key])
        arrays = [c if c_ == key else rest.column(c_) for c_ in keep]
        out[n] = memtable(pa.Table.from_arrays(arrays, names=keep))
    return {n: out.get(n) for n in objs}, ids


class IdCodes:
    """The id values behind the codes of :func:`as_coded_tables`, sorted: code k is the k-th
    smallest value, so that ordering by code orders by id."""

    def __init__(self, values):
        self.values = values  # numpy array, sorted

    def decode_sorted(self, codes: np.ndarray) -> tuple[pd.Index, np.ndarray]:
        """The ids of ``codes`` (no nulls) as a pandas Index sorted by id, and the order
        (positions into ``codes``) that sorts them (an integer sort)."""
        codes = np.asarray(codes)
        order = np.argsort(codes, kind="stable")
        return pd.Index(self.values[codes[order]]), order

    def decode(self, codes) -> np.ndarray:
        """The ids of ``codes`` (an array or Series; nulls / NaN allowed) in their order, as
        the engine returns the ids themselves: a missing code becomes None in text ids and NaN
        in numeric ones."""
        c = pd.Series(codes) if not isinstance(codes, pd.Series) else codes
        null = c.isna().to_numpy()
        pos = c.to_numpy(dtype="float64", na_value=np.nan) if null.any() else c.to_numpy()
        if not null.any():
            return self.values[pos.astype(np.int64, copy=False)]
        pos = np.where(null, 0, pos).astype(np.int64)
        vals = self.values[pos] if len(self.values) else np.empty(len(pos), dtype=object)
        if vals.dtype == object:
            vals = vals.copy()
            vals[null] = None
        else:
            vals = vals.astype("float64")
            vals[null] = np.nan
        return vals


def _raw_codes(s: pd.Series):
    """(codes with -1 for null, Arrow dictionary of the values) of a text or categorical
    column, unsorted; None for any other column (and for an object column that does not hold
    only text)."""
    dtype = s.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        codes, cats = s.cat.codes.to_numpy(), dtype.categories
        if cats.dtype.kind == "O":
            try:
                arrow = pa.array(cats.to_numpy(), type=pa.string())
            except (pa.ArrowTypeError, pa.ArrowInvalid):
                return None
        else:
            arrow = pa.array(cats, from_pandas=True)
    elif isinstance(dtype, pd.StringDtype) and dtype.storage != "python":
        arr = s.array._pa_array  # Arrow storage: Arrow's own hash encoding, no Python objects
        enc = pc.dictionary_encode(arr.combine_chunks() if arr.num_chunks != 1 else arr.chunk(0))
        indices = enc.indices.fill_null(-1) if enc.null_count else enc.indices
        codes, arrow = indices.to_numpy(zero_copy_only=False), enc.dictionary
    elif dtype == object or isinstance(dtype, pd.StringDtype):
        raw = s.array._ndarray if isinstance(dtype, pd.StringDtype) else s.to_numpy()
        codes, values = pd.factorize(raw)  # one hash pass in C (nulls -> -1)
        try:
            arrow = pa.array(values, type=pa.string())
        except (pa.ArrowTypeError, pa.ArrowInvalid):
            return None  # not text: as_table reads it (or names the mixed types)
    else:
        return None
    if pa.types.is_large_string(arrow.type):
        arrow = arrow.cast(pa.string())
    return codes, arrow


def _shared_codes(raw: list):
    """One sorted code space for several (codes, dictionary) pairs: ([int32 Arrow codes per
    input], :class:`IdCodes`); None when the dictionaries hold different value types."""
    if len(raw) == 1:
        (codes, union), remaps = raw[0], [None]
    else:
        if len({d.type for _, d in raw}) != 1:
            return None
        enc = pc.dictionary_encode(pa.concat_arrays([d for _, d in raw]))
        union, idx = enc.dictionary, enc.indices.to_numpy(zero_copy_only=False)
        bounds = np.cumsum([0] + [len(d) for _, d in raw])
        remaps = [idx[a:b] for a, b in zip(bounds[:-1], bounds[1:])]
    n = len(union)
    if n >= 2**31 - 1:
        return None
    # renumber the codes in the values' sort order (sorted by Arrow: a fraction of the cost of
    # comparing Python strings); -1 (null) stays -1
    order = pc.sort_indices(union).to_numpy()
    rank = np.empty(n + 1, dtype=np.int32)
    rank[order] = np.arange(n, dtype=np.int32)
    rank[n] = -1
    out = []
    for (codes, _), remap in zip(raw, remaps):
        if remap is not None:  # this input's dictionary position -> union position
            codes = np.where(codes < 0, -1, remap[np.maximum(codes, 0)]) if len(remap) else codes
        c = rank[codes]
        null = c < 0
        out.append(pa.array(c, mask=null if null.any() else None))
    values = union.take(pa.array(order)).to_numpy(zero_copy_only=False)
    return out, IdCodes(values)


def _keep(present, columns, optional) -> list[str] | None:
    """The columns to convert: ``columns`` and the present ``optional`` ones, when every one of
    ``columns`` is present; None (all) otherwise."""
    present = list(present)
    if columns is None or not all(c in present for c in columns):
        return None
    return list(dict.fromkeys([*columns, *(c for c in optional if c in present)]))


def memtable(table: pa.Table) -> Table:
    """An Ibis memtable over an Arrow table, released from the engine when no longer used.

    DuckDB keeps a registered Arrow table alive for the whole session; the finalizer
    unregisters it from Ibis's default backend and crmlab's own connection (the backends a
    memtable of crmlab's runs on unless it is joined with a table of another connection).
    """
    _quiet_default_backend()
    t = ibis.memtable(table)
    weakref.finalize(t.op(), _unregister, t.op().name)
    return t


def _unregister(name: str) -> None:
    backends = [_con]
    try:
        backends.append(ibis.get_backend())
    except Exception:  # no default backend configured
        pass
    for be in backends:
        if be is None or getattr(be, "name", None) != "duckdb":
            continue
        try:
            be.con.unregister(name)
        except Exception:  # already gone, or the connection is closed (at exit)
            pass


def to_pandas(expr) -> pd.DataFrame:
    """Execute an Ibis expression on its own backend and return pandas."""
    return expr.to_pandas()


# ---------------------------------------------------------------------------------------------
# pandas -> Arrow
# ---------------------------------------------------------------------------------------------
def to_arrow(df: pd.DataFrame, name: str = "table", *, localize: bool = True,
             columns=None) -> pa.Table:
    """One Arrow table for a DataFrame, without inferring types from the values.

    ``localize`` turns tz-aware timestamps into naive wall-clock time in their own zone (False
    keeps them tz-aware, for :func:`crmlab.load`, which converts them to the data's zone).
    ``columns`` (optional) picks the columns, read one by one from the DataFrame (``df[list]``
    would copy them first). The index is not kept. Raises ``TypeError`` naming the table and
    column when an object column holds values Arrow cannot store in one type.
    """
    arrays, names = [], []
    for col in df.columns if columns is None else columns:
        if not isinstance(col, str):
            raise TypeError(f"{name}: column names must be strings, got {col!r}")
        arrays.append(_column_to_arrow(df[col], name, col, localize))
        names.append(col)
    return pa.Table.from_arrays(arrays, names=names)


def _column_to_arrow(s: pd.Series, table: str, col: str, localize: bool):
    dtype = s.dtype
    if isinstance(dtype, pd.DatetimeTZDtype):
        if localize:
            s = s.dt.tz_localize(None)  # wall-clock time in the column's own zone
            return _timestamp_us(s.to_numpy(), None)
        return _timestamp_us(s.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy(), "UTC")
    if dtype.kind == "M":
        return _timestamp_us(s.to_numpy(), None)
    if isinstance(dtype, pd.CategoricalDtype):
        cats = dtype.categories
        if cats.dtype.kind == "O":  # text categories: give the type instead of inferring it
            values = _object_to_arrow(pd.Series(cats), table, col)
        else:
            values = pa.array(cats, from_pandas=True)
        codes = pa.array(s.cat.codes.to_numpy(), mask=(s.cat.codes.to_numpy() < 0))
        return pa.DictionaryArray.from_arrays(codes, values)
    if dtype == object or (isinstance(dtype, pd.StringDtype) and dtype.storage == "python"):
        return _object_to_arrow(s, table, col)
    if hasattr(s.array, "__arrow_array__"):  # string, nullable Int64 / boolean, Arrow-backed
        return pa.array(s.array)
    return pa.array(s.to_numpy(), from_pandas=True)  # numpy numbers / booleans: zero-copy


def _timestamp_us(values: np.ndarray, tz):
    """datetime64 values as an Arrow microsecond timestamp (sub-microseconds floored)."""
    if values.dtype == "datetime64[us]":
        return pa.array(values, type=pa.timestamp("us", tz=tz), from_pandas=True)
    unit, _ = np.datetime_data(values.dtype)
    ticks = values.view("i8")
    nat = ticks == np.iinfo(np.int64).min
    per_us = {"ns": 1000, "us": 1, "ms": -1000, "s": -1_000_000}[unit]
    us = ticks // per_us if per_us > 0 else ticks * -per_us  # one vectorised pass
    return pa.array(us, type=pa.timestamp("us", tz=tz), mask=nat if nat.any() else None)


def _object_to_arrow(s: pd.Series, table: str, col: str):
    """An object column as Arrow text, read in one C-level pass; other values by inference."""
    values = s.to_numpy(dtype=object)
    for nan_is_null in (False, True):  # the check for float NaN costs: only when needed
        try:
            return pa.array(values, type=pa.string(), from_pandas=nan_is_null)
        except (pa.ArrowTypeError, pa.ArrowInvalid):
            pass  # missing values as NaN / pd.NA, or not all text (numbers, dates, decimals)
    try:
        return pa.array(values, from_pandas=True)
    except (pa.ArrowTypeError, pa.ArrowInvalid):
        pass
    # the error path only: name the value types and count the values that are not text
    from crmlab.data.errors import DataContractError

    present = s[s.notna()]
    kinds = present.map(lambda v: type(v).__name__)
    other = present[kinds != "str"]
    raise DataContractError(
        table, col, "an object column mixing value types ("
        + ", ".join(f"{k} {n:,}" for k, n in kinds.value_counts().items())
        + f"); convert it to one type first, e.g. df[{col!r}].astype(str)",
        len(other), other.head(5).tolist())


# ---------------------------------------------------------------------------------------------
# files
# ---------------------------------------------------------------------------------------------
def connection():
    """crmlab's own in-memory DuckDB (Ibis backend) for file inputs, created on first use."""
    global _con
    with _lock:
        if _con is None:
            _con = quiet(ibis.duckdb.connect())
            _con.raw_sql("SET TimeZone = 'UTC'")
        return _con


_default_quieted = False


def _quiet_default_backend() -> None:
    """Memtables run on Ibis's default backend: no progress bar there either (once)."""
    global _default_quieted
    if not _default_quieted:
        _default_quieted = True
        try:
            quiet(ibis.get_backend())
        except Exception:  # a non-DuckDB default backend, or none configured
            pass


def _naive(t: Table) -> Table:
    """tz-aware timestamp columns as naive UTC wall-clock time (crmlab's connection is in UTC)."""
    tz = [c for c, typ in t.schema().items() if _is_tz_aware(typ)]
    if not tz:
        return t
    utc, naive = ibis.dtype("timestamp('UTC')"), ibis.dtype("timestamp")
    return t.mutate(**{c: t[c].cast(utc).cast(naive) for c in tz})


def _is_tz_aware(typ) -> bool:
    if typ.is_timestamp():
        return typ.timezone is not None
    # DuckDB's TIMESTAMPTZ_NS, which Ibis does not map
    return typ.is_unknown() and "TIMESTAMPTZ" in str(getattr(typ, "raw_type", "")).upper()


def quiet(con):
    """Turn DuckDB's progress bar off unless the session is interactive; returns ``con``."""
    if getattr(con, "name", None) == "duckdb" and not interactive():
        con.raw_sql("SET enable_progress_bar = false")
    return con


def interactive() -> bool:
    """True in a terminal or a notebook kernel (where a progress bar is read by someone)."""
    if "ipykernel" in sys.modules:
        return True
    try:
        return sys.stderr.isatty() and sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False


def read_file(path, name: str = "table", columns=None, optional=()) -> Table:
    """An Ibis table over a Parquet / CSV / DuckDB file (see the module docstring).

    Parquet and DuckDB files are scanned in place by every query (columnar, projected). A CSV
    file is parsed once, by DuckDB in parallel, into an Arrow table (only ``columns`` and the
    present ``optional`` ones when all of ``columns`` are there), so that the queries that
    follow do not parse it again. tz-aware timestamps in a file become naive UTC wall-clock
    time (``crmlab.load`` converts them to the data's own zone instead).
    """
    p = Path(path).expanduser()
    if not p.exists():
        raise FileNotFoundError(f"{name}: {p} does not exist")
    low = p.name.lower()
    con = connection()
    if p.is_dir():
        if not any(p.rglob("*.parquet")):
            raise ValueError(f"{name}: directory {p} holds no .parquet file")
        return _naive(con.read_parquet(str(p / "**" / "*.parquet")))
    if low.endswith((".parquet", ".pq")):
        return _naive(con.read_parquet(str(p)))
    if low.endswith(_CSV_SUFFIXES):
        t = con.read_csv(str(p))
        keep = _keep(t.columns, columns, optional)
        arrow = (t if keep is None else t.select(*keep)).to_pyarrow()
        for i, f in enumerate(arrow.schema):
            if pa.types.is_timestamp(f.type) and f.type.tz is not None:  # UTC instants
                arrow = arrow.set_column(i, f.name, arrow.column(i).cast(pa.timestamp("us")))
        return memtable(arrow)
    if low.endswith(_DUCKDB_SUFFIXES):
        alias = "f" + str(abs(hash(str(p.resolve()))))
        attached = set(con.raw_sql("SELECT database_name FROM duckdb_databases()")
                       .fetchnumpy()["database_name"].tolist())
        if alias not in attached:
            con.attach(p, name=alias, read_only=True)
        try:
            t = con.table(name, database=f"{alias}.main")
        except Exception as exc:  # ibis raises different "not found" errors across versions
            raise ValueError(f"{name}: no table {name!r} in {p} ({exc})") from None
        return _naive(t)
    raise ValueError(f"{name}: {p} is not a Parquet, CSV or DuckDB file (by its suffix)")
