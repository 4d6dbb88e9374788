"""Loading CRM data: typed, validated Ibis tables and a data-quality ledger.

:func:`load` reads a directory of ``<table>.parquet`` / ``<table>.csv`` files, a ``.duckdb``
file or an Ibis backend connection, checks every table against the contract
(:mod:`crmlab.data.schema`), converts the columns to their contract types, and returns a
:class:`CRMData`. Hard violations raise :class:`~crmlab.data.errors.DataContractError`; soft
problems are counted in ``CRMData.quality`` (:mod:`crmlab.data.quality`). No row is dropped.

All checks are Ibis expressions executed by the backend: only counts and up to five example
rows come back to Python.
"""
from __future__ import annotations

import hashlib
import html
import json
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.datatypes as dt
import pandas as pd
from ibis import _
from ibis.expr.types import Table

from crmlab._engine import quiet, to_arrow
from crmlab.data.errors import DataContractError
from crmlab.data.schema import CONTRACT, CONTROL_ARM, TABLES, Column, TableSpec
from crmlab.data.sources import (BLANK_CHARS, blank_ids_to_null, engine_error, read_csv_raw,
                                 read_meta, read_parquet_raw, zone_problem)

DEFAULT_TZ = "Asia/Seoul"
_TS = dt.Timestamp()
_TSTZ = dt.Timestamp(timezone="UTC")
_TRUE = ("true", "t", "1", "yes", "y")
_FALSE = ("false", "f", "0", "no", "n")
# A time of day followed by a zone designator: Z, UTC, +09, +0900, +09:00.
_OFFSET_RE = r"(?i)\d:\d{2}(?::\d{2}(?:\.\d+)?)?\s*(z|utc|[+-]\d{2}(?::?\d{2})?)$"
# The wall-clock part of a text timestamp that carries an offset.
_WALL_RE = r"(?i)^(.*\d:\d{2}(?::\d{2}(?:\.\d+)?)?)\s*(?:z|utc|[+-]\d{2}(?::?\d{2})?)$"
_INT_RE = r"^-?(0|[1-9][0-9]{0,17})$"
# Ibis's strip (the engine's TRIM) removes these characters (BLANK_CHARS) from both ends: a
# value is blank when it consists of them only, and TRIM changes only values that begin or
# end with one. Regexes decide both for a fraction of the cost of TRIM with a character set.
_WS = "[" + "".join(f"\\x{ord(ch):02x}" for ch in BLANK_CHARS) + "]"
_BLANK_RE = f"^{_WS}*$"
_EDGE_RE = f"^{_WS}|{_WS}$"
_DUCKDB_SUFFIXES = (".duckdb", ".ddb", ".db")
#: Money columns: a value beyond this (in absolute terms) is an error, not an order: sums of a
#: few such values lose every digit of precision in float64 or overflow to infinity.
MAX_ABS_MONEY = 1e15
_MONEY = {("orders", "amount"), ("campaigns", "cost_per_send"), ("assignments", "coupon_cost")}
#: Tables that must hold at least one row: every analysis reads orders.
_NONEMPTY = ("orders",)
_TARGET = {"id": "int64", "timestamp": "timestamp", "date": "date", "float64": "float64",
           "int64": "int64", "boolean": "boolean", "string": "string"}


# --------------------------------------------------------------------------------------------
# CRMData
# --------------------------------------------------------------------------------------------
@dataclass
class CRMData:
    """A loaded, validated CRM data set.

    Attributes
    ----------
    customers, orders, events, campaigns, assignments, consent_events, holdout_periods : ibis Table or None
        The contract tables (None where the source has no such table), with contract types:
        timestamps are naive local time in ``tz``; extra source columns are kept.
    quality : pandas.DataFrame
        The data-quality ledger: ``table, check, rows, action`` — every soft check, also those
        that found nothing (``rows == 0``).
    tz : str
        The data's time zone (IANA name).
    currency : str or None
        Currency of money columns (from ``meta.json``; None when not declared).
    observation_end : pandas.Timestamp
        Exclusive upper bound of the observed period, naive local time.
    source : str
        What was loaded (a path, or a description of the connection).
    con : ibis backend
        The backend the tables live on (an in-memory DuckDB owned by this object, unless an
        Ibis connection was passed to :func:`load`).

    Examples
    --------
    >>> import crmlab
    >>> data = crmlab.load("data/demo")                         # doctest: +SKIP
    >>> data.orders.group_by("customer_id").count().to_pandas()  # doctest: +SKIP
    >>> data.quality.query("rows > 0")                          # doctest: +SKIP
    """

    customers: Table | None
    orders: Table | None
    events: Table | None
    campaigns: Table | None
    assignments: Table | None
    consent_events: Table | None
    quality: pd.DataFrame
    tz: str
    currency: str | None
    observation_end: pd.Timestamp
    source: str
    con: Any
    holdout_periods: Table | None = None
    meta: dict = field(default_factory=dict)
    _files: list = field(default_factory=list, repr=False)
    _frames: dict = field(default_factory=dict, repr=False)
    _params: dict = field(default_factory=dict, repr=False)

    # -- access -------------------------------------------------------------------------------
    @property
    def tables(self) -> dict[str, Table]:
        """The tables present, by contract name, in contract order."""
        return {n: getattr(self, n) for n in TABLES if getattr(self, n) is not None}

    def __getitem__(self, name: str) -> Table | None:
        if name not in TABLES:
            raise KeyError(f"no contract table {name!r}; tables are {', '.join(TABLES)}")
        return getattr(self, name)

    # -- summaries ----------------------------------------------------------------------------
    def summary(self) -> pd.DataFrame:
        """One row per table present: ``table, rows, columns, first_ts, last_ts``.

        ``first_ts``/``last_ts`` span the table's time column (signup_ts, order_ts, event_ts,
        start_ts, assigned_ts).

        Examples
        --------
        >>> data.summary()                                     # doctest: +SKIP
                 table  rows  columns            first_ts             last_ts
        0    customers  3000       10 2024-01-01 00:03:11 2025-12-30 21:40:00
        """
        rows = []
        for name, t in self.tables.items():
            tcol = CONTRACT[name].time_column
            agg = {"rows": t.count()}
            if tcol in t.columns:
                agg["first_ts"] = t[tcol].min()
                agg["last_ts"] = t[tcol].max()
            r = t.aggregate(**agg).to_pandas().iloc[0]
            rows.append({"table": name, "rows": int(r["rows"]), "columns": len(t.columns),
                         "first_ts": r.get("first_ts", pd.NaT), "last_ts": r.get("last_ts", pd.NaT)})
        out = pd.DataFrame(rows, columns=["table", "rows", "columns", "first_ts", "last_ts"])
        out["first_ts"] = pd.to_datetime(out["first_ts"])
        out["last_ts"] = pd.to_datetime(out["last_ts"])
        return out

    def fingerprint(self) -> str:
        """A stable SHA-256 of the source data and the load parameters.

        For a directory or ``.duckdb`` file: the names and content hashes (streamed) of the
        table files and ``meta.json``. For DataFrames: their columns, dtypes and row hashes.
        For an Ibis connection: per table its columns and types, row count and latest
        time-column value. The load parameters (``tz``,
        ``observation_end``, table mapping) are included, since they change every result.

        Examples
        --------
        >>> crmlab.load("data/demo").fingerprint() == crmlab.load("data/demo").fingerprint()  # doctest: +SKIP
        True
        """
        h = hashlib.sha256()
        h.update(json.dumps({"tz": self.tz, "observation_end": str(self.observation_end),
                             "currency": self.currency, **self._params},
                            sort_keys=True, default=str).encode())
        if self._files:
            for f in sorted(self._files, key=lambda p: p.name):
                h.update(f"\0{f.name}\0".encode())
                h.update(_file_sha256(f).encode())
        elif self._frames:
            for name in sorted(self._frames):
                df = self._frames[name]
                h.update(f"\0{name}\0{list(df.columns)}\0{list(map(str, df.dtypes))}".encode())
                h.update(pd.util.hash_pandas_object(df, index=False).to_numpy().tobytes())
        else:
            for name, t in self.tables.items():
                tcol = CONTRACT[name].time_column
                agg = {"n": t.count()}
                if tcol in t.columns:
                    agg["last"] = t[tcol].max()
                r = t.aggregate(**agg).to_pandas().iloc[0]
                h.update(f"\0{name}\0{t.schema()!r}\0{int(r['n'])}\0{r.get('last')}".encode())
        return h.hexdigest()

    def _repr_html_(self) -> str:
        head = (f"<p><b>CRMData</b> from <code>{html.escape(str(self.source))}</code> — "
                f"time zone {html.escape(self.tz)}, currency {html.escape(str(self.currency))}, "
                f"observed until {self.observation_end} (exclusive)</p>")
        flagged = self.quality[self.quality["rows"] > 0]
        q = ("<p>Data-quality ledger: no soft problems found "
             f"({len(self.quality)} checks).</p>") if flagged.empty else (
            f"<p>Data-quality ledger: {len(flagged)} of {len(self.quality)} checks flagged rows "
            "(all rows kept):</p>" + flagged.to_html(index=False))
        return head + self.summary().to_html(index=False) + q

    def __repr__(self) -> str:
        tabs = ", ".join(f"{n}" for n in self.tables)
        return (f"CRMData(source={self.source!r}, tables=[{tabs}], tz={self.tz!r}, "
                f"currency={self.currency!r}, observation_end={self.observation_end})")


_HASH_CACHE: dict[tuple, str] = {}


def _file_sha256(path: Path) -> str:
    """SHA-256 of a file's (or a directory's files') contents, streamed; cached per process by
    path, size and modification time so that repeated fingerprints of big data are cheap."""
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    stamp = (str(path.resolve()),) + tuple(
        (str(f), f.stat().st_size, f.stat().st_mtime_ns) for f in files)
    if stamp not in _HASH_CACHE:
        _HASH_CACHE[stamp] = _hash_files(path, files)
    return _HASH_CACHE[stamp]


def _hash_files(path: Path, files: list[Path]) -> str:
    h = hashlib.sha256()
    for f in files:
        h.update(str(f.relative_to(path) if path.is_dir() else "").encode())
        with open(f, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()


# --------------------------------------------------------------------------------------------
# load
# --------------------------------------------------------------------------------------------
def load(source, tz: str | None = None, observation_end=None,
         tables: dict[str, str] | None = None, *, currency: str | None = None) -> CRMData:
    """Load and validate CRM data.

    Parameters
    ----------
    source : str, Path, ibis backend, SparkSession or dict of DataFrames
        A directory holding ``<table>.parquet`` (a file, or a directory of parquet parts) or
        ``<table>.csv`` / ``<table>.csv.gz`` for the contract tables present, optionally with
        ``meta.json``; a ``.duckdb`` file (opened read-only); an Ibis backend connection (Spark,
        BigQuery, Snowflake, Postgres, ...: see docs/scale-out.md); a ``pyspark`` SparkSession
        (wrapped in Ibis's PySpark backend); or a
        dict of pandas DataFrames keyed by contract table name (scanned in place by DuckDB).
    tz : str, optional
        IANA time zone of the data. Default: ``tz`` of ``meta.json``, else ``"Asia/Seoul"``.
        tz-aware timestamps are converted to it and made naive; naive timestamps are taken as
        already local. A ``tz`` different from the one ``meta.json`` declares is an error.
    observation_end : str or Timestamp, optional
        Exclusive end of the observed period. Default: ``observation_end`` of ``meta.json``,
        else midnight after the latest order or event date.
    tables : dict, optional
        Contract name -> table name in the source (``.duckdb`` file or connection); also lets a
        directory use other file stems, e.g. ``{"orders": "transactions"}``.
    currency : str, optional
        Currency of money columns. Default: ``currency`` of ``meta.json``, else None.

    Returns
    -------
    CRMData

    Raises
    ------
    DataContractError
        On a hard contract violation (missing required table or column, unparseable values,
        null or duplicate keys, unknown categorical values, a campaign without a control arm,
        assignments to unknown campaigns, mixed time zones, mismatched id types).
    FileNotFoundError
        When ``source`` does not exist.

    Examples
    --------
    >>> import crmlab
    >>> from crmlab.data.examples import tiny_tables
    >>> data = crmlab.load(tiny_tables(), observation_end="2024-07-01")
    >>> data.orders.count().to_pandas()
    8
    >>> int(data.quality["rows"].sum())
    0
    >>> data = crmlab.load("data/demo")                   # doctest: +SKIP
    >>> data.summary()                                    # doctest: +SKIP
    """
    if type(source).__name__ == "SparkSession" and type(source).__module__.startswith("pyspark"):
        # a SparkSession is wrapped in Ibis's PySpark backend; see docs/scale-out.md
        source = ibis.pyspark.connect(source)
    mapping = dict(tables or {})
    unknown = set(mapping) - set(TABLES)
    if unknown:
        raise ValueError(f"tables: unknown contract table(s) {sorted(unknown)}; "
                         f"contract tables are {', '.join(TABLES)}")
    meta: dict = {}
    files: list[Path] = []
    raws: dict[str, Table] = {}
    csv_tables: dict[str, Path] = {}
    table_files: dict[str, Path] = {}

    frames: dict[str, pd.DataFrame] = {}
    clean_ids: dict[str, set] = {}  # text id columns whose blanks are already null (DataFrames)
    if isinstance(source, Mapping):
        con, owned = ibis.duckdb.connect(), True
        source_desc = "pandas DataFrames"
        for key, df in source.items():
            if key not in TABLES:
                raise ValueError(f"crmlab.load: {key!r} is not a contract table; contract "
                                 f"tables are {', '.join(TABLES)}")
            if not isinstance(df, pd.DataFrame):
                raise TypeError(f"crmlab.load: {key} must be a pandas DataFrame, "
                                f"got {type(df).__name__}")
            frames[key] = df
            # one conversion to Arrow with known types (no per-query rescan of Python strings);
            # blank text ids are made null there, once, not by every query of the loaded table
            arrow = to_arrow(df, key, localize=False)
            arrow, clean_ids[key] = _blank_ids_once(arrow, CONTRACT[key])
            con.con.register(f"_crmlab_raw_{key}", arrow)
            raws[key] = con.table(f"_crmlab_raw_{key}")
    elif isinstance(source, ibis.BaseBackend):
        con, owned = source, False
        source_desc = f"ibis {source.name} connection"
        for name in TABLES:
            try:
                raws[name] = _backend_table(con, mapping.get(name, name))
            except Exception as exc:  # backends raise different "not found" errors
                if name in mapping:
                    raise DataContractError(name, None, f"table {mapping[name]!r} named in "
                                            f"`tables` not found in the connection ({exc})")
    else:
        path = Path(source).expanduser()
        if not path.exists():
            raise FileNotFoundError(f"crmlab.load: {path} does not exist")
        source_desc = str(path)
        con, owned = ibis.duckdb.connect(), True
        if path.is_dir():
            meta_path = path / "meta.json"
            if meta_path.exists():
                meta = read_meta(meta_path)
                files.append(meta_path)
            for name in TABLES:
                found = _find_table_file(path, mapping.get(name, name), name, mapping)
                if found is None:
                    continue
                files.append(found)
                table_files[name] = found
                try:
                    if found.name.endswith((".csv", ".csv.gz")):
                        raws[name] = read_csv_raw(con, found, name)
                        csv_tables[name] = found
                    else:
                        raws[name] = read_parquet_raw(con, found, name)
                except _engine_errors() as exc:
                    raise engine_error(exc, name, found) from None
            if not raws:
                listing = sorted(p.name for p in path.iterdir())[:10]
                raise DataContractError("(source)", None, "no contract table found: expected "
                                        "<table>.parquet or <table>.csv for "
                                        + ", ".join(TABLES), None, listing)
        elif path.suffix.lower() in _DUCKDB_SUFFIXES:
            files.append(path)
            try:
                con.attach(path, name="crmlab_src", read_only=True)
            except _engine_errors() as exc:
                first = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else ""
                raise DataContractError("(source)", None, f"{path.name} cannot be opened as a "
                                        f"DuckDB database ({first}); give a DuckDB file, or a "
                                        "directory of Parquet/CSV files") from None
            for name in TABLES:
                try:
                    raws[name] = con.table(mapping.get(name, name), database="crmlab_src.main")
                except Exception:
                    if name in mapping:
                        raise DataContractError(name, None, f"table {mapping[name]!r} named in "
                                                f"`tables` not found in {path.name}")
        else:
            raise ValueError(f"crmlab.load: {path} is neither a directory nor a .duckdb file")

    # time zone, currency -------------------------------------------------------------------
    meta_tz = meta.get("tz")
    if tz is not None and meta_tz is not None and tz != meta_tz:
        raise DataContractError("(source)", "meta.json", f"key 'tz': tz={tz!r} was asked but the data "
                                f"declares tz={meta_tz!r}; naive timestamps cannot be re-zoned")
    tz = tz or meta_tz or DEFAULT_TZ
    if not isinstance(tz, str) or zone_problem(tz):
        raise ValueError(f"tz: {zone_problem(str(tz))}")
    if owned:
        quiet(con)  # no DuckDB progress bar outside a terminal or notebook
    if con.name == "duckdb":
        # Casting TIMESTAMPTZ to TIMESTAMP yields wall-clock time in the session time zone.
        con.raw_sql(f"SET TimeZone = '{tz}'")
    currency = currency or meta.get("currency")

    # required tables -----------------------------------------------------------------------
    present = sorted(raws, key=TABLES.index)
    if "orders" not in raws:
        raise DataContractError("orders", None, "required table missing (tables found: "
                                + (", ".join(present) or "none") + ")")
    for name in present:
        for need in CONTRACT[name].needs:
            if need not in raws:
                raise DataContractError(need, None, f"table missing but required by {name} "
                                        f"(tables found: {', '.join(present)})")

    # per-table contract checks and conversion ------------------------------------------------
    typed: dict[str, Table] = {}
    for name in present:
        try:
            if name in csv_tables:
                typed[name] = _conform_csv(con, raws[name], csv_tables[name], name, tz)
            else:
                typed[name] = _conform(raws[name], CONTRACT[name], csv=False, tz=tz,
                                       clean=clean_ids.get(name, ()))
        except _engine_errors() as exc:
            if name not in table_files:
                raise
            raise engine_error(exc, name, table_files[name]) from None
        except DataContractError as exc:
            raise _in_file(exc, table_files) from None
    try:
        _check_cross_tables(typed)
        if "holdout_periods" in typed:
            from crmlab.data.holdout import check_holdout_periods

            check_holdout_periods(typed["holdout_periods"])
    except _engine_errors() as exc:
        if not table_files:
            raise
        raise engine_error(exc, "(source)", None) from None
    except DataContractError as exc:
        raise _in_file(exc, table_files) from None

    if owned:
        for name in present:
            if name not in csv_tables:  # views over the Parquet / DuckDB data: nothing copied
                typed[name] = con.create_view(name, typed[name])

    # observation end -----------------------------------------------------------------------
    obs = observation_end if observation_end is not None else meta.get("observation_end")
    if obs is not None:
        try:
            obs_ts = pd.Timestamp(obs)
        except (ValueError, TypeError, OverflowError) as exc:
            raise ValueError(f"observation_end: {obs!r} is not a time ({exc}); give an "
                             "ISO-8601 time such as '2025-12-31'") from None
        if pd.isna(obs_ts):
            raise ValueError(f"observation_end: {obs!r} is not a time; give an ISO-8601 time "
                             "such as '2025-12-31'")
        if obs_ts.tzinfo is not None:
            obs_ts = obs_ts.tz_convert(tz).tz_localize(None)
    else:
        obs_ts = _default_observation_end(typed)

    from crmlab.data.quality import build_ledger

    quality = build_ledger(typed, obs_ts)
    return CRMData(
        customers=typed.get("customers"), orders=typed.get("orders"), events=typed.get("events"),
        campaigns=typed.get("campaigns"), assignments=typed.get("assignments"),
        consent_events=typed.get("consent_events"),
        holdout_periods=typed.get("holdout_periods"), quality=quality, tz=tz, currency=currency, observation_end=obs_ts, source=source_desc,
        con=con, meta=meta, _files=files, _frames=frames,
        _params={"tables": mapping, "observation_end_arg": None if observation_end is None
                 else str(observation_end)},
    )


def _in_file(exc: DataContractError, table_files: dict[str, Path]) -> DataContractError:
    """The error with the name of the file its table was read from in front of the problem
    (``orders.order_ts: orders.csv: unparseable timestamp — ...``)."""
    f = table_files.get(exc.table)
    if f is None or exc.problem.startswith(f.name):
        return exc
    return DataContractError(exc.table, exc.column, f"{f.name}: {exc.problem}", exc.n_rows,
                             exc.examples)


def _backend_table(con, qualified: str) -> Table:
    """``con.table`` for ``name``, ``database.name`` or ``catalog.database.name``."""
    try:
        return con.table(qualified)
    except Exception:
        if "." not in qualified:
            raise
        database, table = qualified.rsplit(".", 1)
        return con.table(table, database=database)


def _default_observation_end(typed: dict[str, Table]) -> pd.Timestamp:
    """Midnight after the latest order or event timestamp."""
    latest = []
    for name, col in (("orders", "order_ts"), ("events", "event_ts")):
        t = typed.get(name)
        if t is not None:
            v = t[col].max().to_pandas()
            if v is not None and not pd.isna(v):
                latest.append(pd.Timestamp(v))
    if not latest:
        raise DataContractError("orders", "order_ts", "cannot derive observation_end: the "
                                "table has no rows; pass observation_end=", 0)
    return max(latest).normalize() + pd.Timedelta(days=1)


def _find_table_file(directory: Path, stem: str, name: str, mapping: dict) -> Path | None:
    candidates = [directory / f"{stem}{ext}" for ext in (".parquet", ".csv", ".csv.gz")]
    if (directory / stem).is_dir():
        candidates.append(directory / stem)
    found = [p for p in candidates if p.exists()]
    if len(found) > 1:
        raise DataContractError(name, None, "ambiguous source: several files hold this table ("
                                + ", ".join(p.name for p in found) + "); keep one")
    if not found and name in mapping:
        raise DataContractError(name, None, f"no file {stem}.parquet or {stem}.csv in {directory}")
    return found[0] if found else None


def _conform_csv(con, raw: Table, path: Path, name: str, tz: str | None = None) -> Table:
    """Check a CSV table and parse it once into a DuckDB table named after the contract table.

    The file is read once, into a temporary text table whose blank contract values are already
    null; the checks and the conversion then read that table, not the file again.
    DuckDB detects the types of extra columns from a sample of rows; when a later row does not
    fit, the extra columns are read as text instead.
    """
    import duckdb

    try:
        return _conform_text_once(con, raw, name, tz)
    except duckdb.Error:
        # ibis creates the table before filling it: remove the half-made one (our own DuckDB)
        con.raw_sql(f'DROP TABLE IF EXISTS "{name}"')
        raw = read_csv_raw(con, path, name, all_text=True)
        return _conform_text_once(con, raw, name, tz)


def _conform_text_once(con, raw: Table, name: str, tz: str | None) -> Table:
    """Materialise a CSV view as text once (blank contract values made null), then check and
    convert it into the table ``name``; the temporary text table is dropped afterwards."""
    spec = CONTRACT[name]
    schema = raw.schema()
    clean = {c.name for c in spec.columns
             if c.name in schema and c.dtype != "string" and schema[c.name].is_string()}
    text_name = f"_crmlab_text_{name}"
    con.raw_sql(f'DROP TABLE IF EXISTS "{text_name}"')
    try:
        text = con.create_table(text_name, raw.mutate(**{c: _blank_to_null_re(raw[c])
                                                         for c in clean}), temp=True)
        return con.create_table(name, _conform(text, spec, csv=True, tz=tz, clean=clean))
    finally:
        con.raw_sql(f'DROP TABLE IF EXISTS "{text_name}"')


def _engine_errors() -> tuple[type[BaseException], ...]:
    """Exceptions of the engine and of Arrow raised while scanning a source's files."""
    import duckdb
    import pyarrow as pa

    return (duckdb.Error, pa.ArrowException)


# --------------------------------------------------------------------------------------------
# per-table checks
# --------------------------------------------------------------------------------------------
def _examples(expr: Table, cols: list[str], n: int = 5) -> list:
    df = expr.select(*cols).limit(n).to_pandas()
    out = []
    for row in df.itertuples(index=False):
        vals = tuple(None if (not isinstance(v, str) and pd.isna(v)) else
                     (str(v) if isinstance(v, pd.Timestamp) else
                      (v.item() if hasattr(v, "item") else v)) for v in row)
        out.append(vals[0] if len(vals) == 1 else vals)
    return out


def _is_tz_aware(t: dt.DataType) -> bool:
    if t.is_timestamp():
        return t.timezone is not None
    return t.is_unknown() and "TIMESTAMPTZ" in str(getattr(t, "raw_type", "")).upper()


def _blank_to_null(s):
    return ibis.ifelse(s.strip() == "", ibis.null(s.type()), s)


def _blank_to_null_re(s):
    """:func:`_blank_to_null` by a regex: the same nulls (a value is blank when all its
    characters are stripped), without TRIM's per-row cost."""
    return ibis.ifelse(s.re_search(_BLANK_RE), ibis.null(s.type()), s)


def _strip(s):
    """``s.strip()``, with TRIM run only on the values that begin or end with a character it
    removes (the others it leaves as they are)."""
    return ibis.ifelse(s.re_search(_EDGE_RE), s.strip(), s)


def _blank_ids_once(arrow, spec: TableSpec):
    """A DataFrame's Arrow table with its text id columns' blanks made null
    (:func:`crmlab.data.sources.blank_ids_to_null`), and the names of those columns."""
    clean = set()
    for c in spec.columns:
        if c.dtype == "id" and c.name in arrow.column_names:
            i = arrow.column_names.index(c.name)
            col, ok = blank_ids_to_null(arrow.column(i))
            if ok:
                arrow = arrow.set_column(i, c.name, col)
                clean.add(c.name)
    return arrow, clean


def _conform(raw: Table, spec: TableSpec, csv: bool, tz: str | None = None,
             clean=()) -> Table:
    """Check one table against its contract and return it with contract types.

    ``tz`` is the data's time zone, the session time zone of the backend: text timestamps
    whose offsets differ are accepted when every offset is the one ``tz`` has at that moment
    (daylight-saving time of one declared zone). ``clean``: text columns whose blank
    values are already null (see :func:`_blank_ids_once`, :func:`_conform_text_once`), used
    as they are.
    """
    name = spec.name
    cols = raw.columns
    missing = [c.name for c in spec.required_columns if c.name not in cols]
    if missing:
        n = int(raw.count().to_pandas())
        near = {m: c for m in missing for c in cols
                if c != m and c.strip().lower().replace(" ", "_").replace("-", "_") == m}
        hint = ("; column names are exact (case, spaces): rename "
                + ", ".join(f"{c!r} to {m!r}" for m, c in near.items())) if near else ""
        raise DataContractError(
            name, ", ".join(missing),
            f"missing required column{'s' if len(missing) > 1 else ''} (columns found: "
            + ", ".join(cols[:12]) + (", ..." if len(cols) > 12 else "") + ")" + hint, n)

    schema = raw.schema()
    stats: dict[str, Any] = {}       # name -> aggregate expression over raw
    fails: list[tuple[str, str, Any]] = []   # (column, problem, failing-row condition)
    tz_cols: list[tuple[str, Any, Any]] = []  # (column, has_offset, normalised offset)
    id_cols: list[tuple[str, Any]] = []       # (column, is int-like) for text ids
    conv: dict[str, Any] = {}

    for c in spec.columns:
        if c.name not in cols:
            continue
        s = raw[c.name]
        t = schema[c.name]
        done = c.name in clean and t.is_string()  # blanks already null: no per-row check
        blank = (lambda x: x) if done else _blank_to_null
        expr, fail, problem = _convert(c, s, t, name, csv, blank)
        if c.dtype == "timestamp" and t.is_string():
            txt = blank(s)
            has_off = txt.re_search(_OFFSET_RE)
            off = txt.re_extract(_OFFSET_RE, 1).upper()
            off = ibis.ifelse((off == "Z") | (off == "UTC"), "+00:00", off).replace(":", "")
            off = ibis.ifelse(off.length() == 3, off.concat("00"), off)
            tz_cols.append((c.name, has_off, off))
            stats[f"{c.name}__off"] = has_off.fill_null(False).cast("int64").sum()
            stats[f"{c.name}__naive"] = (txt.notnull() & ~has_off.fill_null(False)).cast("int64").sum()
            stats[f"{c.name}__zones"] = ibis.ifelse(has_off, off, ibis.null("string")).nunique()
        if c.dtype == "id" and t.is_string() and csv:
            txt = blank(s)
            id_cols.append((c.name, txt))
            stats[f"{c.name}__nonint"] = (txt.notnull() & ~txt.re_search(_INT_RE)).cast("int64").sum()
        if fail is not None:
            fails.append((f"{c.name}__fail", c.name, problem, fail))
        if (name, c.name) in _MONEY and expr.type().is_numeric():
            fails.append((f"{c.name}__big", c.name, _TOO_LARGE, expr.abs() >= MAX_ABS_MONEY))
        conv[c.name] = expr
    for key, _col, _problem, fail in fails:
        stats[key] = fail.fill_null(False).cast("int64").sum()
    # tz-aware extra columns become naive local too (one time convention per data set)
    for col in cols:
        if col not in conv and _is_tz_aware(schema[col]):
            conv[col] = raw[col].cast(_TSTZ).cast(_TS)

    # null / allowed-value counts of the converted columns ride along in the same scan, and so
    # does the distinct count of a single-column key (duplicates are then listed only if any)
    stats.update(_value_stats({**{c: raw[c] for c in cols}, **conv}, spec))
    if len(spec.key) == 1:
        key = conv.get(spec.key[0], raw[spec.key[0]])
        stats["__key_count"] = key.count()
        stats["__key_distinct"] = key.nunique()
    if name in _NONEMPTY:
        stats["__rows"] = raw.count()
    res = raw.aggregate(**stats).to_pandas().iloc[0].to_dict() if stats else {}
    res = {k: 0 if pd.isna(v) else int(v) for k, v in res.items()}  # sums over 0 rows are null
    if name in _NONEMPTY and res["__rows"] == 0:
        raise DataContractError(name, None, "the table has no rows (a header without data, or "
                                "an empty table): every analysis reads the orders; export them "
                                "with at least one order", 0)
    for col, has_off, off in tz_cols:
        n_off, n_naive, n_zones = (int(res[f"{col}__off"]), int(res[f"{col}__naive"]),
                                   int(res[f"{col}__zones"]))
        if n_off and n_naive:
            ex = (_examples(raw.filter(has_off.fill_null(False)), [col], 2)
                  + _examples(raw.filter(raw[col].notnull() & ~has_off.fill_null(False)
                                         & (raw[col].strip() != "")), [col], 3))
            raise DataContractError(name, col, "mixed time zones: "
                                    f"{n_off:,} values carry a UTC offset and {n_naive:,} do not",
                                    min(n_off, n_naive), ex)
        if n_zones > 1 and not _offsets_of_zone(raw, col, has_off):
            z = raw.mutate(__off=off).filter(has_off.fill_null(False))
            by = z.group_by("__off").aggregate(n=_.count(), ex=z[col].arbitrary()).order_by(
                ibis.desc("n")).to_pandas()
            minority = int(by["n"].iloc[1:].sum())
            raise DataContractError(name, col, f"mixed time zones: {n_zones} different UTC "
                                    "offsets (" + ", ".join(by["__off"].head(5)) + ")"
                                    + (f", not all of them the offsets of the data's time zone "
                                       f"{tz}" if tz else "") + "; export the column in one "
                                    "zone, or declare the zone it was written in (tz)",
                                    minority, by["ex"].tolist())
    for key, col, problem, fail in fails:
        n = int(res[key])
        if n:
            raise DataContractError(name, col, problem, n,
                                    _examples(raw.filter(fail.fill_null(False)), [col]))
    for col, txt in id_cols:
        conv[col] = txt.cast("int64") if int(res[f"{col}__nonint"]) == 0 else txt

    typed = raw.mutate(**conv) if conv else raw
    _check_values(typed, spec, res)
    return typed


def _offsets_of_zone(raw: Table, col: str, has_off) -> bool:
    """True when every value of a text timestamp column with an offset reads, in the session
    time zone, as the wall-clock time it was written with: all its offsets belong to that one
    zone (e.g. -05:00 in winter and -04:00 in summer for America/New_York)."""
    txt = _blank_to_null(raw[col])
    wall = txt.re_extract(_WALL_RE, 1).try_cast(_TS)
    local = txt.try_cast(_TSTZ).cast(_TS)
    other = (has_off.fill_null(False) & wall.notnull() & local.notnull() & (wall != local))
    return int(raw.aggregate(n=other.cast("int64").sum()).to_pandas().iloc[0]["n"] or 0) == 0


def _convert(c: Column, s, t: dt.DataType, table: str, csv: bool, blank=_blank_to_null):
    """(typed expression, failing-row condition or None, problem) for one contract column.

    ``blank`` makes a text column's blank values null (the identity when they already are)."""
    kind = c.dtype
    tname = str(t)
    if _is_null_type(t):  # e.g. a Parquet column written from an empty or all-missing frame
        return s.cast(_TARGET[kind]), None, ""
    if kind == "timestamp":
        if t.is_timestamp():
            return (s.cast(_TSTZ).cast(_TS) if t.timezone else s.cast(_TS)), None, ""
        if _is_tz_aware(t):
            return s.cast(_TSTZ).cast(_TS), None, ""
        if t.is_date():
            return s.cast(_TS), None, ""
        if t.is_string():
            txt = blank(s)
            has_off = txt.re_search(_OFFSET_RE).fill_null(False)
            parsed = ibis.ifelse(has_off, txt.try_cast(_TSTZ).cast(_TS), txt.try_cast(_TS))
            return parsed, txt.notnull() & parsed.isnull(), "unparseable timestamp"
        return s, s.notnull(), f"expected a timestamp, found {tname} values"
    if kind == "date":
        if t.is_date():
            return s, None, ""
        if t.is_timestamp() or _is_tz_aware(t):
            return (s.cast(_TSTZ).cast(_TS) if _is_tz_aware(t) else s).cast("date"), None, ""
        if t.is_string():
            txt = blank(s)
            parsed = txt.try_cast("date")
            return parsed, txt.notnull() & parsed.isnull(), "unparseable date"
        return s, s.notnull(), f"expected a date, found {tname} values"
    if kind == "float64":
        if t.is_numeric():
            x = s.cast("float64")
            if t.is_floating():  # NaN is missing, not a number
                x = ibis.ifelse(x.isnan(), ibis.null("float64"), x)
            if (table, c.name) in _MONEY:  # infinity too: checked as too large in _conform
                return x, None, ""
            return x, (x.isinf() if t.is_floating() else None), "infinite number"
        if t.is_string():
            txt = _strip(blank(s))
            parsed = txt.try_cast("float64")
            bad = txt.notnull() & (parsed.isnull() | parsed.isnan() | parsed.isinf())
            return ibis.ifelse(bad, ibis.null("float64"), parsed), bad, "unparseable number"
        return s, s.notnull(), f"expected a number, found {tname} values"
    if kind == "int64":
        if t.is_integer():
            return s.cast("int64"), None, ""
        if t.is_floating() or t.is_decimal():
            x = s.cast("float64")
            return (x.cast("int64"), x.notnull() & ((x != x.floor()) | x.isinf()),
                    "not an integer")
        if t.is_string():
            txt = _strip(blank(s))
            parsed = txt.try_cast("int64")
            return parsed, txt.notnull() & parsed.isnull(), "unparseable integer"
        return s, s.notnull(), f"expected an integer, found {tname} values"
    if kind == "boolean":
        if t.is_boolean():
            return s, None, ""
        if t.is_integer():
            return s == 1, s.notnull() & ~s.isin([0, 1]), "not a boolean (expected 0 or 1)"
        if t.is_string():
            txt = _strip(blank(s)).lower()
            bad = txt.notnull() & ~txt.isin(list(_TRUE + _FALSE))
            return (ibis.ifelse(txt.isin(list(_TRUE)), True,
                                ibis.ifelse(txt.isin(list(_FALSE)), False, ibis.null("boolean"))),
                    bad, "unparseable boolean (expected true/false, 1/0, yes/no)")
        return s, s.notnull(), f"expected a boolean, found {tname} values"
    if kind == "id":
        if t.is_integer():
            return s.cast("int64"), None, ""
        if t.is_string():
            return blank(s), None, ""
        return s, s.notnull(), f"identifiers must be integers or strings, found {tname} values"
    # string
    if t.is_string():
        return s, None, ""
    return s.cast("string"), None, ""


_TOO_LARGE = (f"value too large (absolute value {MAX_ABS_MONEY:.0e} or more, or infinite): "
              "sums of such values overflow or lose all precision; check the unit and the "
              "export (a value in another unit, or a placeholder like 9.9e307?)")


def _is_null_type(t: dt.DataType) -> bool:
    """Parquet/Arrow columns of type null (no value was ever written) reach Ibis as ``null``
    or as an unknown DuckDB type named NULL."""
    return t.is_null() or (t.is_unknown() and 'KIND="NULL"' in str(t).upper())


def _value_stats(columns: dict, spec: TableSpec) -> dict:
    """Aggregates counting nulls in non-nullable columns and values outside the allowed set."""
    stats = {}
    for c in spec.columns:
        if c.name not in columns:
            continue
        col = columns[c.name]
        if not c.nullable:
            stats[f"{c.name}__null"] = col.isnull().cast("int64").sum()
        if c.allowed:
            stats[f"{c.name}__bad"] = (col.notnull()
                                       & ~col.isin(list(c.allowed))).cast("int64").sum()
    return stats


def _check_values(t: Table, spec: TableSpec, res) -> None:
    """Null keys / required values, unknown categorical values (counted in ``res``), duplicate
    keys."""
    name = spec.name
    for c in spec.columns:
        key = f"{c.name}__null"
        if key in res and int(res[key]):
            what = "null key" if c.name in spec.key else "null value in a required column"
            cols = list(dict.fromkeys(x for x in (*spec.key, "customer_id", spec.time_column)
                                      if x and x != c.name and x in t.columns))[:3]
            ex = _examples(t.filter(t[c.name].isnull()), cols) if cols else []
            raise DataContractError(name, c.name, what + (f" (examples show {', '.join(cols)})"
                                                          if cols else ""), int(res[key]), ex)
    for c in spec.columns:
        key = f"{c.name}__bad"
        if key in res and int(res[key]):
            bad = t.filter(t[c.name].notnull() & ~t[c.name].isin(list(c.allowed)))
            vals = bad.group_by(c.name).aggregate(n=_.count()).order_by(ibis.desc("n"))
            raise DataContractError(name, c.name, "unknown value (allowed: "
                                    + ", ".join(c.allowed) + ")", int(res[key]),
                                    _examples(vals, [c.name]))
    if spec.key:
        k = list(spec.key)
        if "__key_distinct" in res and res["__key_distinct"] == res["__key_count"]:
            return  # a single-column key whose distinct count (same scan as above) says unique
        dups = t.group_by(k).aggregate(__n=_.count()).filter(_.__n > 1)
        r = dups.aggregate(groups=_.count(), rows=_.__n.sum()).to_pandas().iloc[0]
        if int(r["groups"]):
            raise DataContractError(
                name, ", ".join(k), f"duplicate key ({int(r['groups']):,} "
                f"value{'s' if int(r['groups']) > 1 else ''} repeated)", int(r["rows"]),
                _examples(dups.order_by(k), k))


def _id_kind(t: dt.DataType) -> str:
    return "integer" if t.is_integer() else "string" if t.is_string() else str(t)


def _check_cross_tables(typed: dict[str, Table]) -> None:
    """id types agree; assignments point at known campaigns; every campaign has a control arm."""
    ref = next(iter(typed))
    for idcol, names in (("customer_id", [n for n in TABLES if n != "campaigns"]),
                         ("campaign_id", ["campaigns", "assignments"])):
        present = [n for n in names if n in typed and idcol in typed[n].columns]
        if len(present) < 2:
            continue
        ref = present[0] if idcol == "campaign_id" else (
            "customers" if "customers" in present else "orders")
        ref_kind = _id_kind(typed[ref].schema()[idcol])
        for n in present:
            kind = _id_kind(typed[n].schema()[idcol])
            if kind != ref_kind:
                t = typed[n]
                rows = int(t.count().to_pandas())
                if rows == 0:  # an empty table's id type is arbitrary (e.g. written as null)
                    typed[n] = t.mutate(**{idcol: t[idcol].cast(typed[ref].schema()[idcol])})
                    continue
                raise DataContractError(
                    n, idcol, f"type mismatch between tables: {kind} here, {ref_kind} in {ref}",
                    rows, _examples(t, [idcol]))
    a, c = typed.get("assignments"), typed.get("campaigns")
    if a is None or c is None:
        return
    orphans = a.anti_join(c, "campaign_id")
    r = orphans.aggregate(rows=_.count(), ids=_.campaign_id.nunique()).to_pandas().iloc[0]
    if int(r["rows"]):
        ids = orphans.group_by("campaign_id").aggregate(n=_.count()).order_by(ibis.desc("n"))
        raise DataContractError("assignments", "campaign_id",
                                f"assignments to unknown campaigns ({int(r['ids'])} campaign "
                                "id(s) not in campaigns)", int(r["rows"]),
                                _examples(ids, ["campaign_id"]))
    per = a.group_by("campaign_id").aggregate(
        rows=_.count(), controls=(_.arm == CONTROL_ARM).cast("int64").sum())
    nocontrol = per.filter(_.controls == 0)
    r = nocontrol.aggregate(campaigns=_.count(), rows=_.rows.sum()).to_pandas().iloc[0]
    if int(r["campaigns"]):
        raise DataContractError("assignments", "arm",
                                f"campaign with no '{CONTROL_ARM}' arm ({int(r['campaigns'])} "
                                "campaign(s)): every campaign needs a randomized holdout",
                                int(r["rows"]), _examples(nocontrol.order_by("campaign_id"),
                                                          ["campaign_id"]))


# --------------------------------------------------------------------------------------------
# the `crmlab validate` command
# --------------------------------------------------------------------------------------------
def validate_command(path, tz: str | None = None) -> int:
    """Load ``path``, print the table summary and the data-quality ledger; return an exit code.

    Returns 0 when the data meet the contract (soft problems are listed in the ledger), 1
    after printing the message of a hard error on stderr. No traceback is ever printed: an
    unexpected failure is reported in one line with its type.

    Examples
    --------
    >>> validate_command("data/demo")                     # doctest: +SKIP
    """
    def fail(message: str) -> int:
        print(f"crmlab validate: {path}: {message}", file=sys.stderr)
        return 1

    try:
        data = load(path, tz=tz)
        summary = data.summary()
    except DataContractError as exc:
        return fail(f"contract violation\n  {exc}")
    except (FileNotFoundError, ValueError, TypeError, OSError) as exc:  # no such path, bad tz
        return fail(str(exc))
    except Exception as exc:  # noqa: BLE001 - the user gets a sentence, never a traceback
        first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
        return fail(f"cannot be read ({type(exc).__name__}: {first})")
    with pd.option_context("display.width", 160, "display.max_columns", 20,
                           "display.max_colwidth", 80, "display.max_rows", 200):
        print(f"crmlab validate: {data.source}")
        print(f"time zone {data.tz}; currency {data.currency}; observation_end "
              f"{data.observation_end} (exclusive)\n")
        print("Tables")
        print(summary.to_string(index=False))
        flagged = int((data.quality["rows"] > 0).sum())
        print(f"\nData-quality ledger ({len(data.quality)} checks, {flagged} of them flagged "
              "rows; every row was kept)")
        print(data.quality.to_string(index=False))
    print("\nOK: the data meets the contract.")
    return 0
