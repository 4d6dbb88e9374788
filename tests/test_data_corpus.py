"""A corpus of malformed data directories, built at test time from the tiny data set.

Every case goes through ``crmlab.load`` and ``crmlab validate`` (in process, as the command
line runs it): the error is a DataContractError naming the table, the file, the column or key
and the problem; ``validate`` exits 1 with the message on stderr, nothing on stdout and no
traceback; and no input file changed (SHA-256 of every file before and after). A few files of
the same families must be accepted (BOM, other separators, daylight-saving offsets of the
declared zone, an empty assignments table written from an empty frame).
"""
from __future__ import annotations

import codecs
import gzip
import hashlib
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import crmlab
from crmlab.cli import main
from crmlab.data.errors import DataContractError
from crmlab.data.examples import tiny_tables, write_tables

META = {"tz": "Asia/Seoul", "currency": "KRW", "observation_end": "2024-07-01"}


@pytest.fixture(scope="module")
def bases(tmp_path_factory) -> dict[str, Path]:
    """Valid directories the cases copy: orders only or all five tables, CSV or Parquet."""
    root = tmp_path_factory.mktemp("corpus_bases")
    t = tiny_tables()
    out = {}
    for fmt in ("csv", "parquet"):
        out[f"orders_{fmt}"] = write_tables({"orders": t["orders"]}, root / f"orders_{fmt}",
                                            fmt=fmt, meta=META)
        out[f"all_{fmt}"] = write_tables(t, root / f"all_{fmt}", fmt=fmt, meta=META)
    return out


# --------------------------------------------------------------------------------- helpers
def _lines(p: Path) -> list[str]:
    return p.read_text(encoding="utf-8").splitlines()


def _write_lines(p: Path, lines: list[str]) -> None:
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _edit_line(file: str, i: int, fn: Callable[[str], str]):
    def mutate(d: Path) -> None:
        lines = _lines(d / file)
        lines[i] = fn(lines[i])
        _write_lines(d / file, lines)
    return mutate


def _replace_bytes(file: str, old: bytes, new: bytes):
    def mutate(d: Path) -> None:
        b = (d / file).read_bytes()
        assert old in b, (file, old)
        (d / file).write_bytes(b.replace(old, new, 1))
    return mutate


def _write_bytes(file: str, data: bytes, remove: tuple[str, ...] = ()):
    def mutate(d: Path) -> None:
        for r in remove:
            (d / r).unlink()
        (d / file).write_bytes(data)
    return mutate


def _meta(value):
    return _write_bytes("meta.json", value if isinstance(value, bytes)
                        else json.dumps(value).encode())


def _csv_cell(file: str, row: int, col: str, value: str):
    """Set one cell of a CSV written by pandas (all values kept as text)."""
    def mutate(d: Path) -> None:
        df = pd.read_csv(d / file, dtype=str, keep_default_na=False)
        df.loc[row, col] = value
        df.to_csv(d / file, index=False)
    return mutate


def _pq_frame(file: str, fn: Callable[[pd.DataFrame], pd.DataFrame]):
    def mutate(d: Path) -> None:
        fn(pd.read_parquet(d / file)).to_parquet(d / file, index=False)
    return mutate


def _long_orders(n: int, last: bytes) -> Callable[[Path], None]:
    """orders.csv with n valid rows (beyond the first megabyte) and then the line ``last``."""
    def mutate(d: Path) -> None:
        head = b"order_id,customer_id,order_ts,amount\n"
        rows = b"".join(b"X%d,1,2024-01-03 11:00:00,1000.0\n" % i for i in range(n))
        (d / "orders.csv").write_bytes(head + rows + last)
    return mutate


def _gzip_orders(transform: Callable[[bytes], bytes] = lambda b: b):
    def mutate(d: Path) -> None:
        raw = (d / "orders.csv").read_bytes()
        (d / "orders.csv").unlink()
        (d / "orders.csv.gz").write_bytes(transform(raw))
    return mutate


def _parts(fn: Callable[[pd.DataFrame, Path], None]):
    """Replace orders.parquet with a folder orders/ of parts written by ``fn``."""
    def mutate(d: Path) -> None:
        df = pd.read_parquet(d / "orders.parquet")
        (d / "orders.parquet").unlink()
        (d / "orders").mkdir()
        fn(df, d / "orders")
    return mutate


def _pq_duplicate_amount(d: Path) -> None:
    t = pq.read_table(d / "orders.parquet")
    pq.write_table(pa.table(list(t.columns) + [t.column("amount")],
                            names=t.column_names + ["amount"]), d / "orders.parquet")


def _pq_null_column(col: str):
    def mutate(d: Path) -> None:
        t = pq.read_table(d / "orders.parquet")
        i = t.column_names.index(col)
        pq.write_table(t.set_column(i, col, pa.nulls(len(t), pa.null())), d / "orders.parquet")
    return mutate


def _seq(*fns):
    def mutate(d: Path) -> None:
        for f in fns:
            f(d)
    return mutate


@dataclass
class Case:
    id: str
    base: str                          # key of `bases`
    mutate: Callable[[Path], None]
    table: str                         # DataContractError.table
    file: str | None                   # a file name the message must contain
    words: tuple[str, ...]             # lower-case words the message must contain
    column: str | None = field(default="*")  # "*": any column
    tz: str | None = None
    target: str | None = None          # what to load, relative to the case folder


O, OP, A, AP = "orders_csv", "orders_parquet", "all_csv", "all_parquet"
OC = "orders.csv"
OPQ = "orders.parquet"

CASES = [
    # --- encoding -------------------------------------------------------------------------
    Case("cp949_text", O, _replace_bytes(OC, b"O3", "주문3".encode("cp949")), "orders", OC,
         ("not utf-8", "line 4", "iconv")),
    Case("latin1_byte", O, _replace_bytes(OC, b"O5", b"O\xe95"), "orders", OC,
         ("not utf-8", "line 6")),
    Case("non_utf8_after_first_megabyte", O, _long_orders(40_000, b"Z1,1,2024-01-03 11:00:00,1\xe90\n"),
         "orders", OC, ("not utf-8", "line 40,002")),
    Case("utf16_with_bom", O, lambda d: (d / OC).write_bytes(
        (d / OC).read_text().encode("utf-16")), "orders", OC, ("utf-16", "utf-8")),
    Case("utf16le_without_bom", O, lambda d: (d / OC).write_bytes(
        (d / OC).read_text().encode("utf-16-le")), "orders", OC, ("nul byte", "line 1")),
    Case("nul_byte_in_value", O, _replace_bytes(OC, b"O3", b"O\x003"), "orders", OC,
         ("nul byte", "line 4")),
    Case("binary_garbage", O, _write_bytes(OC, bytes(range(256)) * 8), "orders", OC,
         ("nul byte",)),
    Case("parquet_bytes_named_csv", O, _write_bytes(OC, b"PAR1\x15\x04\x15\x00\x00" + b"\x00" * 40
                                                    + b"PAR1"), "orders", OC, ("nul byte",)),
    # --- CSV structure --------------------------------------------------------------------
    Case("ragged_row_extra_field", O, _edit_line(OC, 3, lambda s: s + ",extra"), "orders", OC,
         ("line 4", "7 fields", "header has 6", "quote")),
    Case("ragged_row_missing_fields", O, _edit_line(OC, 3, lambda s: ",".join(s.split(",")[:3])),
         "orders", OC, ("line 4", "3 fields", "header has 6")),
    Case("ragged_row_far_down", O, _long_orders(30_000, b"Z1,1,2024-01-03 11:00:00,1,surplus\n"),
         "orders", OC, ("line 30,002", "5 fields", "header has 4")),
    Case("unterminated_quote", O, _edit_line(OC, 2, lambda s: '"' + s), "orders", OC,
         ("quoted value is never closed", "line 3")),
    Case("duplicate_column_csv", O, _edit_line(OC, 0, lambda s: s.replace("quantity", "amount")),
         "orders", OC, ("duplicate column name", "'amount' 2 times"), column="amount"),
    Case("empty_csv", O, _write_bytes(OC, b""), "orders", OC, ("is empty", "no header")),
    Case("blank_lines_only_csv", O, _write_bytes(OC, b"\n\n  \n"), "orders", OC, ("is empty",)),
    Case("header_only_orders", O, lambda d: _write_lines(d / OC, _lines(d / OC)[:1]),
         "orders", OC, ("no rows",), column=None),
    Case("missing_required_column", O, lambda d: pd.read_csv(d / OC).drop(
        columns="amount").to_csv(d / OC, index=False), "orders", OC,
         ("missing required column", "columns found"), column="amount"),
    Case("column_name_case", O, _edit_line(OC, 0, lambda s: s.replace("amount", "Amount")),
         "orders", OC, ("missing required column", "rename 'amount' to 'amount'"),
         column="amount"),
    Case("column_name_spaced", O, _edit_line(OC, 0, lambda s: s.replace("order_ts", "Order TS")),
         "orders", OC, ("missing required column", "'order ts' to 'order_ts'"),
         column="order_ts"),
    Case("events_ragged", A, _edit_line("events.csv", 2, lambda s: s + ",x,y"), "events",
         "events.csv", ("line 3", "fields")),
    Case("campaigns_nul", A, _replace_bytes("campaigns.csv", b"Review", b"Rev\x00iew"),
         "campaigns", "campaigns.csv", ("nul byte",)),
    # --- compression ----------------------------------------------------------------------
    Case("gzip_truncated", O, _gzip_orders(lambda b: gzip.compress(b)[:40]), "orders",
         "orders.csv.gz", ("truncated", "gzip")),
    Case("gzip_not_gzip", O, _gzip_orders(), "orders", "orders.csv.gz", ("not a valid gzip",)),
    Case("gzip_empty", O, _gzip_orders(lambda b: b""), "orders", "orders.csv.gz", ("empty",)),
    Case("gzip_non_utf8", O, _gzip_orders(lambda b: gzip.compress(b.replace(b"O2", b"O\xff2"))),
         "orders", "orders.csv.gz", ("not utf-8", "line 3")),
    Case("gzip_ragged", O, _gzip_orders(lambda b: gzip.compress(b.replace(b"O2,", b"O2,,"))),
         "orders", "orders.csv.gz", ("line 3", "fields")),
    Case("gzip_damaged_late", O, _gzip_orders(lambda b: (lambda z: z[:len(z) // 2])(
        gzip.compress(b"order_id,customer_id,order_ts,amount\n" + b"".join(
            b"X%d,1,2024-01-03 11:00:00,%d\n" % (i, i * 7919 % 100003) for i in range(150_000))))),
         "orders", "orders.csv.gz", ("gzip",)),
    # --- Parquet --------------------------------------------------------------------------
    Case("parquet_truncated", OP, lambda d: (d / OPQ).write_bytes((d / OPQ).read_bytes()[:200]),
         "orders", OPQ, ("not a complete parquet file", "write the table again")),
    Case("parquet_empty_file", OP, _write_bytes(OPQ, b""), "orders", OPQ, ("is empty", "0 bytes")),
    Case("parquet_is_csv_text", OP, _write_bytes(OPQ, b"order_id,amount\nO1,5\n"), "orders", OPQ,
         ("not a complete parquet file",)),
    Case("parquet_duplicate_columns", OP, _pq_duplicate_amount, "orders", OPQ,
         ("duplicate column name",), column="amount"),
    Case("parquet_empty_folder", OP, lambda d: ((d / OPQ).unlink(), (d / "orders").mkdir()),
         "orders", "orders/:", ("holds no .parquet files",)),
    Case("parquet_parts_columns_differ", OP, _parts(lambda df, p: (
        df.iloc[:4].to_parquet(p / "a.parquet"),
        df.iloc[4:].drop(columns="quantity").to_parquet(p / "b.parquet"))), "orders",
        "orders/b.parquet", ("different columns", "lacks quantity")),
    Case("parquet_parts_types_differ", OP, _parts(lambda df, p: (
        df.iloc[:4].to_parquet(p / "a.parquet"),
        df.iloc[4:].astype({"amount": str}).to_parquet(p / "b.parquet"))), "orders",
        "orders/b.parquet", ("disagree on the column's type", "text here, number"), column="amount"),
    Case("parquet_part_truncated", OP, _parts(lambda df, p: (
        df.iloc[:4].to_parquet(p / "a.parquet"),
        (p / "b.parquet").write_bytes(b"PAR1garbage"))), "orders", "orders/b.parquet",
        ("not a complete parquet file",)),
    Case("parquet_struct_amount", OP, _pq_frame(OPQ, lambda df: df.assign(
        amount=[{"v": 1}] * len(df))), "orders", OPQ, ("expected a number", "struct"),
        column="amount"),
    Case("parquet_float_ids", OP, _pq_frame(OPQ, lambda df: df.assign(customer_id=df.customer_id
                                                                      * 1.5)),
         "orders", OPQ, ("identifiers must be integers or strings",), column="customer_id"),
    Case("parquet_empty_orders", OP, _pq_frame(OPQ, lambda df: df.iloc[:0]), "orders", OPQ,
         ("no rows",), column=None),
    Case("parquet_null_typed_timestamps", OP, _pq_null_column("order_ts"), "orders", OPQ,
         ("null value in a required column",), column="order_ts"),
    Case("parquet_text_timestamps_unparseable", OP, _pq_frame(OPQ, lambda df: df.assign(
        order_ts=["yesterday"] + [str(x) for x in df.order_ts[1:]])), "orders", OPQ,
         ("unparseable timestamp", "'yesterday'"), column="order_ts"),
    # --- meta.json ------------------------------------------------------------------------
    Case("meta_list", O, _meta([1, 2]), "(source)", "meta.json", ("json list", "expected an object")),
    Case("meta_string", O, _meta("Asia/Seoul"), "(source)", "meta.json", ("json text",)),
    Case("meta_number", O, _meta(7), "(source)", "meta.json", ("json number",)),
    Case("meta_invalid_json", O, _meta(b'{"tz": "Asia/Seoul",}'), "(source)", "meta.json",
         ("not valid json", "line 1")),
    Case("meta_empty_file", O, _meta(b""), "(source)", "meta.json", ("not valid json",)),
    Case("meta_not_utf8", O, _meta(b'{"currency": "\xa9"}'), "(source)", "meta.json",
         ("not utf-8",)),
    Case("meta_is_folder", O, lambda d: ((d / "meta.json").unlink(), (d / "meta.json").mkdir()),
         "(source)", "meta.json", ("not a regular file",)),
    Case("meta_observation_end_text", O, _meta({"observation_end": "soon"}), "(source)",
         "meta.json", ("'observation_end'", '"soon"', "not a time")),
    Case("meta_observation_end_number", O, _meta({"observation_end": 20240701}), "(source)",
         "meta.json", ("'observation_end'", "iso-8601")),
    Case("meta_observation_end_list", O, _meta({"observation_end": ["2024-07-01"]}), "(source)",
         "meta.json", ("'observation_end'",)),
    Case("meta_tz_unknown", O, _meta({"tz": "Mars/Olympus"}), "(source)", "meta.json",
         ("'tz'", "mars/olympus", "not a known iana time zone")),
    Case("meta_tz_number", O, _meta({"tz": 9}), "(source)", "meta.json", ("'tz'", "iana")),
    Case("meta_tz_conflicts_with_argument", O, lambda d: None, "(source)", "meta.json",
         ("'tz'", "cannot be re-zoned"), tz="Europe/Berlin"),
    Case("meta_currency_number", O, _meta({"currency": 410}), "(source)", "meta.json",
         ("'currency'", "currency code")),
    # --- values and types -----------------------------------------------------------------
    Case("unparseable_timestamp", O, _csv_cell(OC, 1, "order_ts", "2024-13-01 10:00:00"),
         "orders", OC, ("unparseable timestamp",), column="order_ts"),
    Case("offsets_not_of_declared_zone", O, _seq(*[_csv_cell(OC, i, "order_ts", v) for i, v in
                                                  enumerate(["2024-01-03T11:00:00-05:00",
                                                             "2024-03-20T19:45:00-04:00"] * 4)]),
         "orders", OC, ("mixed time zones", "asia/seoul"), column="order_ts"),
    Case("offset_and_naive_mixed", O, _csv_cell(OC, 0, "order_ts", "2024-01-03T11:00:00+09:00"),
         "orders", OC, ("mixed time zones", "carry a utc offset"), column="order_ts"),
    Case("two_huge_amounts", O, _seq(_csv_cell(OC, 0, "amount", "1e308"),
                                     _csv_cell(OC, 1, "amount", "9e307")),
         "orders", OC, ("value too large", "2 rows"), column="amount"),
    Case("infinite_amount_parquet", OP, _pq_frame(OPQ, lambda df: df.assign(
        amount=[float("inf")] + list(df.amount[1:]))), "orders", OPQ, ("value too large",),
         column="amount"),
    Case("amount_text_inf", O, _csv_cell(OC, 2, "amount", "inf"), "orders", OC,
         ("unparseable number",), column="amount"),
    Case("amount_thousands_separator", O, _csv_cell(OC, 2, "amount", "12,000"), "orders", OC,
         ("unparseable number", "'12,000'"), column="amount"),
    Case("cost_per_send_huge", A, _csv_cell("campaigns.csv", 0, "cost_per_send", "1e300"),
         "campaigns", "campaigns.csv", ("value too large",), column="cost_per_send"),
    Case("duplicate_order_id", O, _csv_cell(OC, 1, "order_id", "O1"), "orders", OC,
         ("duplicate key",), column="order_id"),
    Case("blank_order_id", O, _csv_cell(OC, 3, "order_id", ""), "orders", OC, ("null key",),
         column="order_id"),
    Case("unknown_channel", A, _csv_cell("campaigns.csv", 0, "channel", "fax"), "campaigns",
         "campaigns.csv", ("unknown value", "'fax'"), column="channel"),
    Case("bad_boolean", O, _csv_cell(OC, 0, "is_refund", "maybe"), "orders", OC,
         ("unparseable boolean",), column="is_refund"),
    Case("fractional_quantity", OP, _pq_frame(OPQ, lambda df: df.assign(
        quantity=[1.5] + list(df.quantity[1:].astype(float)))), "orders", OPQ,
         ("not an integer",), column="quantity"),
    Case("assignments_unknown_campaign", A, _csv_cell("assignments.csv", 0, "campaign_id", "C9"),
         "assignments", "assignments.csv", ("unknown campaigns",), column="campaign_id"),
    Case("campaign_without_control", AP, _pq_frame("assignments.parquet", lambda df: df.assign(
        arm=df.arm.replace("control", "holdout"))), "assignments", "assignments.parquet",
         ("no 'control' arm",), column="arm"),
    Case("customer_id_types_differ", AP, _pq_frame("orders.parquet", lambda df: df.assign(
        customer_id=df.customer_id.map(lambda x: f"c{x}"))), "orders", OPQ,
         ("type mismatch",), column="customer_id"),
    # --- the source as a whole ------------------------------------------------------------
    Case("csv_and_parquet_for_one_table", O, lambda d: pd.read_csv(d / OC).to_parquet(d / OPQ),
         "orders", OPQ, ("ambiguous source", "orders.csv")),
    Case("no_table_files", O, lambda d: (d / OC).rename(d / "ordres.csv"), "(source)", None,
         ("no contract table found",)),
    Case("duckdb_file_garbage", O, _write_bytes("shop.duckdb", b"not a database" * 100),
         "(source)", "shop.duckdb", ("cannot be opened as a duckdb database",), target="shop.duckdb"),
]


def _hashes(d: Path) -> dict[str, str]:
    return {str(p.relative_to(d)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(d.rglob("*")) if p.is_file()}


def _make(case: Case, bases, tmp_path) -> Path:
    d = tmp_path / case.id
    shutil.copytree(bases[case.base], d)
    case.mutate(d)
    return d


def test_corpus_size():
    assert len(CASES) >= 60
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case: Case, bases, tmp_path, capsys):
    d = _make(case, bases, tmp_path)
    target = d / case.target if case.target else d
    before = _hashes(d)

    with pytest.raises(DataContractError) as exc:
        crmlab.load(target, tz=case.tz)
    err = exc.value
    msg = str(err)
    assert err.table == case.table, msg
    if case.column != "*":
        assert err.column == case.column, msg
    if case.file is not None:
        assert case.file in msg, msg
    for word in case.words:
        assert word in msg.lower(), (word, msg)
    assert "traceback" not in msg.lower() and "Original Line" not in msg

    argv = ["validate", str(target)] + (["--tz", case.tz] if case.tz else [])
    assert main(argv) == 1
    out, stderr = capsys.readouterr()
    assert out == "", out
    assert msg in stderr and "Traceback" not in stderr, stderr

    assert _hashes(d) == before  # no input file was changed


# ------------------------------------------------------------------- accepted files of the families
def test_utf8_bom_crlf_and_quoted_values_are_read(bases, tmp_path):
    d = tmp_path / "bom"
    shutil.copytree(bases[O], d)
    df = pd.read_csv(d / OC)
    df["sales_channel"] = ['web, "app"'] + ["store"] * (len(df) - 1)
    text = df.to_csv(index=False, lineterminator="\r\n").replace("amount", " amount ", 1)
    (d / OC).write_bytes(codecs.BOM_UTF8 + text.encode("utf-8"))
    before = _hashes(d)
    orders = crmlab.load(d).orders.to_pandas().sort_values("order_id")
    assert orders["sales_channel"].iloc[0] == 'web, "app"'
    assert list(orders["order_id"]) == [f"O{i}" for i in range(1, 9)]
    assert _hashes(d) == before


@pytest.mark.parametrize("sep", [";", "\t", "|"])
def test_other_field_separators_are_read(bases, tmp_path, sep):
    d = tmp_path / "sep"
    shutil.copytree(bases[O], d)
    df = pd.read_csv(d / OC)
    df.to_csv(d / OC, index=False, sep=sep)
    got = crmlab.load(d).orders.to_pandas().sort_values("order_id").reset_index(drop=True)
    assert got["amount"].tolist() == df.sort_values("order_id")["amount"].tolist()
    assert str(got["order_ts"].dtype).startswith("datetime64")


def test_daylight_saving_offsets_of_the_declared_zone_are_converted(bases, tmp_path, capsys):
    d = tmp_path / "dst"
    shutil.copytree(bases[O], d)
    df = pd.read_csv(d / OC)
    # winter (-05:00) and summer (-04:00) offsets of America/New_York, and both readings of
    # the repeated hour on the day the clocks go back
    df["order_ts"] = ["2024-01-03T11:00:00-05:00", "2024-03-20T19:45:00-04:00",
                      "2024-01-06T13:00:00-05:00", "2024-07-02T10:00:00-04:00",
                      "2024-11-03T01:30:00-04:00", "2024-11-03T01:30:00-05:00",
                      "2024-03-10T03:30:00-04:00", "2024-04-15T22:10:00-04:00"]
    df.to_csv(d / OC, index=False)
    (d / "meta.json").write_text(json.dumps({**META, "tz": "America/New_York"}))
    got = crmlab.load(d).orders.to_pandas().sort_values("order_id")
    assert [str(x) for x in got["order_ts"]] == [
        "2024-01-03 11:00:00", "2024-03-20 19:45:00", "2024-01-06 13:00:00",
        "2024-07-02 10:00:00", "2024-11-03 01:30:00", "2024-11-03 01:30:00",
        "2024-03-10 03:30:00", "2024-04-15 22:10:00"]
    # the same offsets declared as another zone are mixed zones
    (d / "meta.json").write_text(json.dumps({**META, "tz": "America/Chicago"}))
    with pytest.raises(DataContractError, match="mixed time zones.*America/Chicago"):
        crmlab.load(d)
    assert main(["validate", str(d), "--tz", "America/Chicago"]) == 1
    assert "mixed time zones" in capsys.readouterr().err


def test_empty_assignments_written_from_an_empty_frame_are_accepted(bases, tmp_path):
    # pandas writes the columns of an empty object frame as Parquet type null
    d = tmp_path / "empty_assignments"
    shutil.copytree(bases[AP], d)
    cols = pd.read_parquet(d / "assignments.parquet").columns
    pd.DataFrame({c: pd.Series([], dtype=object) for c in cols}).to_parquet(
        d / "assignments.parquet")
    data = crmlab.load(d)
    assert data.assignments.count().to_pandas() == 0
    assert data.assignments.schema()["customer_id"] == data.customers.schema()["customer_id"]
    q = data.quality.set_index(["table", "check"])["rows"]
    assert q[("campaigns", "campaign without assignments")] == 2


def test_header_only_events_are_an_empty_table(bases, tmp_path):
    d = tmp_path / "events_header_only"
    shutil.copytree(bases[A], d)
    _write_lines(d / "events.csv", _lines(d / "events.csv")[:1])
    data = crmlab.load(d)
    assert data.events.count().to_pandas() == 0


def test_validate_subprocess_prints_no_traceback(bases, tmp_path):
    """The installed command, end to end: exit 1, one message on stderr, nothing on stdout."""
    import subprocess
    import sys

    d = _make(CASES[[c.id for c in CASES].index("ragged_row_extra_field")], bases, tmp_path)
    r = subprocess.run([sys.executable, "-m", "crmlab.cli", "validate", str(d)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 1 and r.stdout == ""
    assert "orders: orders.csv: line 4 has 7 fields" in r.stderr
    assert "Traceback" not in r.stderr
