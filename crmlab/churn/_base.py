"""Shared pieces of :mod:`crmlab.churn`: the input error and the results-object base class."""
from __future__ import annotations

import html
from abc import ABC, abstractmethod

import pandas as pd

RESULT_COLUMNS = ["metric", "arm", "n", "value", "control_value", "abs_lift", "rel_lift",
                  "ci_low", "ci_high", "p_value", "method"]


class ChurnInputError(ValueError):
    """Bad input to a churn analysis: the message names the table, the column, the problem,
    the number of rows concerned and what to do about it."""


class ChurnResult(ABC):
    """Base class of the churn results objects.

    Subclasses set their numbers as attributes and implement :meth:`to_frame` and
    :attr:`reading`; this class renders them (``summary``, ``_repr_html_``).
    """

    title = "Result"

    @abstractmethod
    def to_frame(self) -> pd.DataFrame:
        """One tidy row per group or comparison."""

    @property
    @abstractmethod
    def reading(self) -> str:
        """One plain-language sentence."""

    @property
    def summary(self) -> str:
        return self.reading

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: {self.reading}>"

    def _repr_html_(self) -> str:
        frame = self.to_frame()
        return (f"<div><strong>{html.escape(self.title)}</strong>"
                f"<p>{html.escape(self.reading)}</p>"
                f"{frame.to_html(index=False, float_format=lambda v: f'{v:,.4g}')}</div>")


def tidy(rows: list[dict]) -> pd.DataFrame:
    """Rows in the project's tidy results layout (missing columns filled with NaN)."""
    frame = pd.DataFrame(rows)
    for col in RESULT_COLUMNS:
        if col not in frame:
            frame[col] = float("nan")
    extra = [c for c in frame.columns if c not in RESULT_COLUMNS]
    return frame[RESULT_COLUMNS + extra]
