"""Reading the files of a data directory: ``meta.json``, CSV and Parquet, checked before use.

Every malformed file becomes a :class:`~crmlab.data.errors.DataContractError` naming the file,
the table, the column or key, the problem and what to do: text that is not UTF-8, NUL bytes,
a ragged or unterminated CSV row, duplicate column names, a corrupt or truncated gzip or
Parquet file, Parquet parts that disagree, a ``meta.json`` of the wrong shape or with a bad
value. Files are only ever opened for reading.

The loader (:mod:`crmlab.data.io`) calls :func:`read_meta`, :func:`read_csv_raw`,
:func:`read_parquet_raw` and, when the engine fails while scanning a file,
:func:`engine_error`.
"""
from __future__ import annotations

import codecs
import csv
import gzip
import json
import re
import zlib
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from crmlab.data.errors import DataContractError
from crmlab.data.schema import CONTRACT

SOURCE = "(source)"
#: Field separators accepted in a CSV header, in order of preference.
CSV_DELIMITERS = (",", "\t", ";", "|")
_DELIM_NAMES = {",": "','", "\t": "tab", ";": "';'", "|": "'|'"}
_HEAD_BYTES = 1 << 20  # the part of a CSV checked in Python before the engine reads it
_META_KEYS = ("observation_end", "tz", "currency")


# --------------------------------------------------------------------------------------------
# meta.json
# --------------------------------------------------------------------------------------------
def _meta_error(key: str | None, problem: str) -> DataContractError:
    return DataContractError(SOURCE, "meta.json", problem if key is None
                             else f"key {key!r}: {problem}")


def read_meta(path: Path) -> dict:
    """Read and check ``meta.json``: a JSON object whose ``observation_end`` (ISO time),
    ``tz`` (IANA zone) and ``currency`` (text) are of the right kind when present.

    Other keys are kept as they are (the simulator writes row counts, seeds, ...).
    """
    if not path.is_file():
        raise _meta_error(None, f"the file is not a regular file; remove it or write a JSON "
                                "object there")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _meta_error(None, f"the file is not UTF-8 text ({exc.reason} at byte "
                                f"{exc.start}); re-save it as UTF-8") from None
    try:
        meta = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _meta_error(None, f"the file is not valid JSON ({exc.msg} at line {exc.lineno}, "
                                f"column {exc.colno}); fix it or remove the file") from None
    if not isinstance(meta, dict):
        raise _meta_error(None, f"the file holds a JSON {_json_kind(meta)}, expected an object "
                                "such as {\"observation_end\": \"2025-12-31T00:00:00\", "
                                "\"tz\": \"Asia/Seoul\", \"currency\": \"KRW\"}")
    obs = meta.get("observation_end")
    if obs is not None:
        if not isinstance(obs, str) or not obs.strip():
            raise _meta_error("observation_end", f"{_show(obs)} is not allowed; expected an "
                                                 "ISO-8601 time as text, e.g. "
                                                 "\"2025-12-31T00:00:00\", or null")
        try:
            ts = pd.Timestamp(obs)
        except (ValueError, TypeError, OverflowError):
            ts = None
        if ts is None or pd.isna(ts):
            raise _meta_error("observation_end", f"{_show(obs)} is not a time; write an "
                                                 "ISO-8601 time such as \"2025-12-31T00:00:00\", "
                                                 "or remove the key to derive it from the data")
    tz = meta.get("tz")
    if tz is not None:
        if not isinstance(tz, str):
            raise _meta_error("tz", f"{_show(tz)} is not allowed; expected an IANA time zone "
                                    "name as text, e.g. \"Asia/Seoul\", or null")
        problem = zone_problem(tz)
        if problem:
            raise _meta_error("tz", problem)
    cur = meta.get("currency")
    if cur is not None and (not isinstance(cur, str) or not cur.strip()):
        raise _meta_error("currency", f"{_show(cur)} is not allowed; expected a currency code "
                                      "as text, e.g. \"KRW\", or null")
    return meta


def zone_problem(tz: str) -> str | None:
    """None when ``tz`` names a known IANA time zone, else what is wrong with it."""
    try:
        ZoneInfo(tz)
        return None
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        return (f"{tz!r} is not a known IANA time zone; use a name such as \"Asia/Seoul\", "
                "\"America/New_York\" or \"UTC\"")


def _json_kind(value) -> str:
    return {list: "list", str: "text", int: "number", float: "number", bool: "boolean",
            type(None): "null"}.get(type(value), type(value).__name__)


def _show(value) -> str:
    return json.dumps(value, default=str)[:60]


# --------------------------------------------------------------------------------------------
# CSV
# --------------------------------------------------------------------------------------------
def _file_error(name: str, path: Path, problem: str, column: str | None = None,
                n_rows: int | None = None) -> DataContractError:
    shown = path.name + ("/" if path.is_dir() else "")
    return DataContractError(name, column, _file_problem(shown, problem), n_rows)


def _file_problem(file: str, problem: str) -> str:
    """``orders.csv is empty ...`` or ``orders.csv: line 4 ...``."""
    verb = problem.split(" ", 1)[0]
    return f"{file} {problem}" if verb in ("is", "contains", "holds") else f"{file}: {problem}"


def _open_text_head(path: Path, name: str) -> tuple[str, bool]:
    """The first megabyte of a (possibly gzipped) CSV as text, and whether the file ends there."""
    gz = path.name.lower().endswith(".gz")
    try:
        if gz:
            with gzip.open(path, "rb") as fh:
                head = fh.read(_HEAD_BYTES)
                complete = fh.read(1) == b""
        else:
            with open(path, "rb") as fh:
                head = fh.read(_HEAD_BYTES)
                complete = fh.read(1) == b""
    except (gzip.BadGzipFile, OSError, EOFError, zlib.error) as exc:
        if gz:
            what = ("is truncated (the compressed stream ends early)"
                    if isinstance(exc, EOFError) else f"is not a valid gzip file ({exc})")
            raise _file_error(name, path, f"{what}; compress the CSV again with gzip, or give "
                                          "it uncompressed as " + path.name[:-3]) from None
        raise _file_error(name, path, f"cannot be read ({exc})") from None
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise _file_error(name, path, "is UTF-16 text; re-save it as UTF-8 (e.g. `iconv -f "
                                      "utf-16 -t utf-8`)")
    nul = head.find(b"\x00")
    if nul >= 0:
        line = head.count(b"\n", 0, nul) + 1
        raise _file_error(name, path, f"contains a NUL byte (line {line}): not a text CSV "
                                      "(a binary, UTF-16 or damaged file); export it again as "
                                      "UTF-8 CSV")
    if head.startswith(codecs.BOM_UTF8):
        head = head[len(codecs.BOM_UTF8):]
    try:
        # a multi-byte character may be cut at the end of the first megabyte
        text = codecs.getincrementaldecoder("utf-8")().decode(head, final=complete)
    except UnicodeDecodeError as exc:
        line = head.count(b"\n", 0, exc.start) + 1
        raise _file_error(name, path, f"is not UTF-8 text ({exc.reason} at byte {exc.start}, "
                                      f"line {line}); re-save it as UTF-8, e.g. "
                                      "`iconv -f cp949 -t utf-8`") from None
    return text, complete


def csv_header(path: Path, name: str) -> tuple[list[str], str]:
    """The header of a CSV and its field separator.

    Checks the first megabyte in Python: gzip integrity, UTF-8, NUL bytes, an empty file, a
    header with duplicate or unterminated names. The rest of the file is checked by the engine
    as it parses (see :func:`engine_error`).
    """
    text, _ = _open_text_head(path, name)
    if not text.strip():
        raise _file_error(name, path, "is empty (no header line); write a header with the "
                                      "column names, e.g. " + ",".join(
                                          c.name for c in CONTRACT[name].required_columns), n_rows=0)
    first = text.split("\n", 1)[0]
    delim = next((d for d in CSV_DELIMITERS if d in first), ",")
    try:
        header = next(csv.reader(iter(text.splitlines(keepends=True)), delimiter=delim,
                                 quotechar='"', doublequote=True, strict=True))
    except csv.Error as exc:
        raise _file_error(name, path, f"the header line cannot be parsed ({exc}); check its "
                                      "quoting") from None
    header = [h.strip() for h in header]  # as the engine reads them
    seen: dict[str, int] = {}
    for h in header:
        seen[h] = seen.get(h, 0) + 1
    dups = [h for h, n in seen.items() if n > 1]
    if dups:
        raise _file_error(name, path, "duplicate column name"
                          + ("s" if len(dups) > 1 else "") + " in the header ("
                          + ", ".join(f"{d!r} {seen[d]} times" for d in dups)
                          + "); rename or drop the extra columns", column=", ".join(dups))
    if any(h == "" for h in header) and len(header) == 1:
        raise _file_error(name, path, "the header line is blank; the first line must hold the "
                                      "column names")
    return header, delim


def read_csv_raw(con, path: Path, name: str, all_text: bool = False):
    """Register a CSV with the contract columns as text (parsed strictly later).

    The field separator comes from the header (``,``, tab, ``;`` or ``|``), quoting is RFC 4180
    (``"`` doubled inside a quoted value), every row must have as many fields as the header.
    Extra columns get the engine's detected types, or text with ``all_text`` (also used when
    type detection cannot read the file).
    """
    header, delim = csv_header(path, name)
    contract_cols = set(CONTRACT[name].column_names)
    opts = dict(header=True, delim=delim, quote='"', escape='"')
    if not all_text:
        types = {c: "VARCHAR" for c in header if c in contract_cols}
        try:
            return con.read_csv(str(path), table_name=f"_crmlab_raw_{name}", types=types, **opts)
        except Exception:  # noqa: BLE001 - type detection failed: read strictly, all as text
            pass
    columns = {c: "VARCHAR" for c in header}
    return con.read_csv(str(path), table_name=f"_crmlab_raw_{name}_text", columns=columns,
                        auto_detect=False, **opts)


# --------------------------------------------------------------------------------------------
# Parquet
# --------------------------------------------------------------------------------------------
def parquet_parts(path: Path) -> list[Path]:
    """The Parquet files of a table: the file itself, or every ``*.parquet`` under a folder."""
    if path.is_dir():
        return sorted(p for p in path.rglob("*.parquet") if p.is_file())
    return [path]


def check_parquet(path: Path, name: str) -> None:
    """Read the footer of every Parquet file of a table: a truncated or non-Parquet file, a
    folder with no parts, duplicate column names, or parts whose columns differ are errors."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    parts = parquet_parts(path)
    if not parts:
        raise _file_error(name, path, "the folder holds no .parquet files; put the table's "
                                      "Parquet parts there, or remove the folder")
    first_names: list[str] | None = None
    first_kinds: dict[str, str | None] = {}
    contract_cols = set(CONTRACT[name].column_names)
    for part in parts:
        rel = part.relative_to(path.parent)
        try:
            schema = pq.read_schema(part)
        except (pa.ArrowException, OSError) as exc:
            size = part.stat().st_size
            what = ("is empty (0 bytes)" if size == 0 else
                    "is not a complete Parquet file (truncated, or not Parquet at all: "
                    f"{str(exc).splitlines()[0][:120]})")
            raise DataContractError(name, None, _file_problem(str(rel), what + "; write the "
                                    "table again (e.g. DataFrame.to_parquet)")) from None
        names = list(schema.names)
        counts: dict[str, int] = {}
        for n in names:
            counts[n] = counts.get(n, 0) + 1
        dups = [n for n, k in counts.items() if k > 1]
        if dups:
            raise DataContractError(name, ", ".join(dups), f"{rel}: duplicate column name"
                                    + ("s" if len(dups) > 1 else "") + " ("
                                    + ", ".join(f"{d!r} {counts[d]} times" for d in dups)
                                    + "); rename or drop the extra columns")
        kinds = {f.name: _arrow_kind(f.type) for f in schema if f.name in contract_cols}
        if first_names is None:
            first_names, first_kinds = names, kinds
        elif set(names) != set(first_names):
            extra = sorted(set(names) - set(first_names))
            lack = sorted(set(first_names) - set(names))
            diff = "; ".join(x for x in (f"has {', '.join(extra)}" if extra else "",
                                         f"lacks {', '.join(lack)}" if lack else "") if x)
            raise DataContractError(name, ", ".join(extra + lack),
                                    f"{rel}: the Parquet parts of the table have different "
                                    f"columns (this part {diff}, unlike "
                                    f"{parts[0].relative_to(path.parent)}); write every part "
                                    "with the same columns")
        for col, kind in kinds.items():
            if kind and first_kinds.get(col) and kind != first_kinds[col]:
                raise DataContractError(name, col, f"{rel}: the Parquet parts of the table "
                                        f"disagree on the column's type ({kind} here, "
                                        f"{first_kinds[col]} in "
                                        f"{parts[0].relative_to(path.parent)}); write every "
                                        "part with the same types")


def _arrow_kind(t) -> str | None:
    """number, text, time or boolean (None for a null column, which fits any kind)."""
    import pyarrow as pa

    if pa.types.is_null(t):
        return None
    if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t):
        return "number"
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return "text"
    if pa.types.is_timestamp(t) or pa.types.is_date(t):
        return "time"
    if pa.types.is_boolean(t):
        return "boolean"
    return str(t)


def read_parquet_raw(con, path: Path, name: str):
    check_parquet(path, name)
    pattern = str(path / "**" / "*.parquet") if path.is_dir() else str(path)
    return con.read_parquet(pattern, table_name=f"_crmlab_raw_{name}")


# --------------------------------------------------------------------------------------------
# engine errors while scanning a file
# --------------------------------------------------------------------------------------------
_LINE_RE = re.compile(r"CSV Error on Line:\s*(\d+)")
_COLS_RE = re.compile(r"Expected Number of Columns:\s*(\d+)\s*Found:\s*(\d+)")
_CAST_RE = re.compile(r"Could not convert string .* to '?(\w+)'?|Conversion Error", re.S)


def engine_error(exc: BaseException, name: str, path: Path | None) -> DataContractError:
    """A DataContractError for an engine failure while reading ``path`` (table ``name``).

    The engine's own message may quote a line of the file: only its kind and the line number
    are kept, never the values.
    """
    msg = str(exc)
    where = path.name if path is not None else name
    m = _LINE_RE.search(msg)
    line = f"line {int(m.group(1)):,}" if m else None
    at = f" ({line})" if line else ""
    cols = _COLS_RE.search(msg)
    if cols:
        want, got = int(cols.group(1)), int(cols.group(2))
        problem = (f"{where}: {line or 'a row'} has {got} field{'s' if got != 1 else ''} but "
                   f"the header has {want}: a value holds an unquoted separator or line break, "
                   "or the row was cut off; quote such values (\"...\") and export again")
    elif "unterminated quote" in msg.lower():
        problem = (f"{where}: a quoted value is never closed{at}; every \" that opens a value "
                   "must close it, and a \" inside a value is written twice (\"\")")
    elif "invalid unicode" in msg.lower() or "utf-8" in msg.lower() and "encod" in msg.lower():
        problem = (f"{where}: not UTF-8 text{at}; re-save the whole file as UTF-8, e.g. "
                   "`iconv -f cp949 -t utf-8`")
    elif any(k in msg.lower() for k in ("gzip", "zlib", "inflate", "compress")):
        problem = (f"{where}: the compressed data are damaged or truncated{at}; compress the "
                   "CSV again with gzip, or give it uncompressed")
    elif "parquet" in msg.lower() or (path is not None and path.suffix == ".parquet"):
        problem = (f"{where}: the Parquet data cannot be read (damaged or truncated file: "
                   f"{msg.splitlines()[0][:160]}); write the table again")
    elif "maximum line size" in msg.lower():
        problem = (f"{where}: a line is too long{at} (a quote left open, or not a CSV); check "
                   "the quoting and the export")
    else:
        problem = (f"{where}: the file cannot be read{at} ({type(exc).__name__}: "
                   f"{_first_line_without_data(msg)}); check that it is a well-formed "
                   "UTF-8 CSV or Parquet file")
    return DataContractError(name, None, problem)


def _first_line_without_data(msg: str) -> str:
    first = msg.strip().splitlines()[0] if msg.strip() else ""
    # keep the engine's summary; drop anything after a quote of the data
    return re.split(r"Original Line|\"|'", first)[0].strip()[:160]


# --------------------------------------------------------------------------------------------
# DataFrames: blank text ids found once, in Arrow
# --------------------------------------------------------------------------------------------
#: The characters a blank id consists of: those of the engine's TRIM in ``_blank_to_null``
#: (Ibis's ``strip``), so that both ways give the same nulls.
BLANK_CHARS = " \t\n\r\x0b\x0c"
_BLANK_BYTES = np.frombuffer(BLANK_CHARS.encode(), dtype=np.uint8)


def blank_ids_to_null(col: pa.Table | pa.ChunkedArray | pa.Array):
    """A text id column of a DataFrame (Arrow) with blank values (empty or only
    :data:`BLANK_CHARS`) made null, as the loader's ``_blank_to_null`` does in the engine:
    done once here, the loaded table's id column is the column itself and every later query
    reads it without a per-row TRIM. Returns ``(column, True)``, or ``(col, False)`` for a
    column that is not text (left to the engine).

    Only values whose first byte is one of :data:`BLANK_CHARS` (or that are empty) can be
    blank: those are found from the Arrow offsets and bytes in one vectorised pass, and only
    they are trimmed.
    """
    chunks = col.chunks if isinstance(col, pa.ChunkedArray) else [col]
    out, changed = [], False
    for ch in chunks:
        if pa.types.is_dictionary(ch.type):
            if not (pa.types.is_string(ch.type.value_type)
                    or pa.types.is_large_string(ch.type.value_type)):
                return col, False
            blank = _blank_mask(ch.dictionary)
            if blank is not None:  # null the indices pointing at a blank value
                hit = pc.fill_null(pc.array_take(pa.array(blank), ch.indices), False)
                ch = pa.DictionaryArray.from_arrays(
                    pc.if_else(hit, pa.scalar(None, ch.indices.type), ch.indices), ch.dictionary)
                changed = True
        elif pa.types.is_string(ch.type) or pa.types.is_large_string(ch.type):
            blank = _blank_mask(ch)
            if blank is not None:
                ch = pc.if_else(pa.array(blank), pa.scalar(None, ch.type), ch)
                changed = True
        else:
            return col, False
        out.append(ch)
    if not changed:
        return col, True
    return (pa.chunked_array(out, type=out[0].type) if isinstance(col, pa.ChunkedArray)
            else out[0]), True


def _blank_mask(arr: pa.Array):
    """Boolean numpy mask of the blank values of a string array, or None when there is none."""
    n = len(arr)
    if n == 0:
        return None
    bufs = arr.buffers()
    off_type = np.int64 if pa.types.is_large_string(arr.type) else np.int32
    offsets = np.frombuffer(bufs[1], dtype=off_type)[arr.offset:arr.offset + n + 1]
    data = (np.frombuffer(bufs[2], dtype=np.uint8) if bufs[2] is not None
            else np.empty(0, np.uint8))
    starts, lengths = offsets[:-1], np.diff(offsets)
    maybe = lengths == 0
    has = ~maybe
    maybe[has] = np.isin(data[starts[has]], _BLANK_BYTES)
    if arr.null_count:
        maybe &= arr.is_valid().to_numpy(zero_copy_only=False)
    cand = np.flatnonzero(maybe)
    if cand.size == 0:
        return None
    trimmed = pc.utf8_trim(arr.take(pa.array(cand)), characters=BLANK_CHARS)
    blank_c = pc.equal(pc.binary_length(trimmed), 0).to_numpy(zero_copy_only=False)
    if not blank_c.any():
        return None
    mask = np.zeros(n, dtype=bool)
    mask[cand[blank_c]] = True
    return mask
