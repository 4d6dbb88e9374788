"""Seaborn/matplotlib figures used by notebooks and reports.

One module per area (``crmlab.plots.cohorts``, ``crmlab.plots.churn``, ...). Importing this
package selects a font with Hangul (NanumGothic, shipped by ``koreanize-matplotlib``) so that
Korean labels render; when that font is unavailable it falls back to matplotlib's default and
says so once.
"""
from __future__ import annotations

import warnings

import matplotlib

_FONT_READY = False


def setup_fonts() -> str:
    """Select a Hangul-capable font for matplotlib; returns the family in use."""
    global _FONT_READY
    if not _FONT_READY:
        try:
            import koreanize_matplotlib  # noqa: F401  (registers NanumGothic and selects it)
        except Exception as exc:  # pragma: no cover - depends on the installation
            warnings.warn(f"Korean font unavailable ({exc}); Hangul may not render in figures",
                          stacklevel=2)
        matplotlib.rcParams["axes.unicode_minus"] = False
        _FONT_READY = True
    family = matplotlib.rcParams["font.family"]
    return family[0] if isinstance(family, list) else family


setup_fonts()
