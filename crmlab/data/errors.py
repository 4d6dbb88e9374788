"""The error raised when input data breaks the crmlab data contract."""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

MAX_EXAMPLES = 5


def _fmt_example(value: Any) -> str:
    if isinstance(value, tuple):
        return "(" + ", ".join(_fmt_example(v) for v in value) + ")"
    if value is None:
        return "null"
    return repr(value) if isinstance(value, str) else str(value)


class DataContractError(ValueError):
    """A hard violation of the data contract (see ``docs/data-contract.md``).

    The message names the table, the column, the problem, the number of offending rows and up
    to five example values, so that the analyst can find the rows in the source.

    Parameters
    ----------
    table : str
        Contract table name (``orders``, ``customers``, ...), or ``"(source)"`` for problems with
        the source as a whole.
    column : str or None
        The offending column (or columns, comma separated); None when the problem is a table.
    problem : str
        What is wrong, in plain words.
    n_rows : int or None
        How many rows are affected (None when a row count does not apply, e.g. a missing table).
    examples : sequence, optional
        Offending values (or key tuples); only the first five are kept.

    Examples
    --------
    >>> err = DataContractError("orders", "order_id", "duplicate key", 2, ["A1", "A7"])
    >>> print(err)
    orders.order_id: duplicate key — 2 rows; examples: 'A1', 'A7'
    >>> err.n_rows
    2
    """

    def __init__(self, table: str, column: str | None, problem: str,
                 n_rows: int | None = None, examples: Iterable[Any] | None = None) -> None:
        self.table = table
        self.column = column
        self.problem = problem
        self.n_rows = None if n_rows is None else int(n_rows)
        ex: Sequence[Any] = list(examples or [])[:MAX_EXAMPLES]
        self.examples = list(ex)
        where = table if column is None else f"{table}.{column}"
        msg = f"{where}: {problem}"
        if self.n_rows is not None:
            msg += f" — {self.n_rows:,} row{'s' if self.n_rows != 1 else ''}"
        if self.examples:
            msg += "; examples: " + ", ".join(_fmt_example(v) for v in self.examples)
        super().__init__(msg)

    def __reduce__(self):  # keep the attributes when pickled (e.g. across papermill/processes)
        return (type(self), (self.table, self.column, self.problem, self.n_rows, self.examples))
