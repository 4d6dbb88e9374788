"""The error raised when input data breaks the crmlab data contract.

Its examples are offending values — often customer or order identifiers. They are for the
analyst's own terminal (``crmlab validate``, an interactive session); nothing crmlab writes for
others (``results.json``, ``run.log``, reports, the portfolio) may carry them. Such writers use
:attr:`DataContractError.redacted` (or :func:`public_message`); and while the environment
variable :data:`REDACT_ENV` is set — the batch runner sets it for its workers and notebook
kernels — ``str(err)`` itself leaves the examples out, so tracebacks in executed notebooks and
logs cannot carry them either.
"""
from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

MAX_EXAMPLES = 5
#: While this environment variable is "1", ``str(DataContractError)`` omits the examples.
REDACT_ENV = "CRMLAB_REDACT_EXAMPLES"


def redacting() -> bool:
    """Whether error messages must leave data values out (:data:`REDACT_ENV` is "1")."""
    return os.environ.get(REDACT_ENV) == "1"


@contextlib.contextmanager
def redacted_examples() -> Iterator[None]:
    """Within the block (and in processes started from it) messages leave examples out.

    Examples
    --------
    >>> err = DataContractError("customers", "customer_id", "duplicate key", 2, ["C-17"])
    >>> with redacted_examples():
    ...     print(err)
    customers.customer_id: duplicate key — 2 rows; 1 example value withheld (`crmlab validate` shows it)
    """
    saved = os.environ.get(REDACT_ENV)
    os.environ[REDACT_ENV] = "1"
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop(REDACT_ENV, None)
        else:
            os.environ[REDACT_ENV] = saved


def public_message(exc: BaseException) -> str:
    """The message of ``exc`` as it may be written to files others read: a
    :class:`DataContractError` without its example values, any other exception as ``str``."""
    return exc.redacted if isinstance(exc, DataContractError) else str(exc)


def _fmt_example(value: Any) -> str:
    if isinstance(value, tuple):
        return "(" + ", ".join(_fmt_example(v) for v in value) + ")"
    if value is None:
        return "null"
    return repr(value) if isinstance(value, str) else str(value)


class DataContractError(ValueError):
    """A hard violation of the data contract (see ``docs/data-contract.md``).

    The message names the table, the column, the problem, the number of offending rows and up
    to five example values, so that the analyst can find the rows in the source. The examples
    are data (often identifiers): :attr:`redacted` is the message without them, for anything
    written to files (and ``str(err)`` is that form while :data:`REDACT_ENV` is set).

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
    >>> err.redacted
    'orders.order_id: duplicate key — 2 rows; 2 example values withheld (`crmlab validate` shows them)'
    """

    def __init__(self, table: str, column: str | None, problem: str,
                 n_rows: int | None = None, examples: Iterable[Any] | None = None) -> None:
        self.table = table
        self.column = column
        self.problem = problem
        self.n_rows = None if n_rows is None else int(n_rows)
        ex: Sequence[Any] = list(examples or [])[:MAX_EXAMPLES]
        self.examples = list(ex)
        super().__init__(self.redacted)

    @property
    def _base(self) -> str:
        where = self.table if self.column is None else f"{self.table}.{self.column}"
        msg = f"{where}: {self.problem}"
        if self.n_rows is not None:
            msg += f" — {self.n_rows:,} row{'s' if self.n_rows != 1 else ''}"
        return msg

    @property
    def with_examples(self) -> str:
        """The full message, example values included (for the analyst's own terminal)."""
        if not self.examples:
            return self._base
        return self._base + "; examples: " + ", ".join(_fmt_example(v) for v in self.examples)

    @property
    def redacted(self) -> str:
        """The message without example values: table, column, problem and row count only."""
        k = len(self.examples)
        if not k:
            return self._base
        return (self._base + f"; {k} example value{'s' if k != 1 else ''} withheld "
                f"(`crmlab validate` shows {'them' if k != 1 else 'it'})")

    def __str__(self) -> str:
        return self.redacted if redacting() else self.with_examples

    def __reduce__(self):  # keep the attributes when pickled (e.g. across papermill/processes)
        return (type(self), (self.table, self.column, self.problem, self.n_rows, self.examples))
