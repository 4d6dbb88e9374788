"""Rendering: the pages crmlab writes.

- :mod:`crmlab.reporting.html` — ``report.html`` from an executed notebook (:func:`render_html`)
- :mod:`crmlab.reporting.portfolio` — ``index.html`` from every ``results.json`` (:func:`build_index`)
- :mod:`crmlab.reporting.formatting` — money, signed lifts with intervals, percentages
- :mod:`crmlab.reporting.fonts` — the Hangul glyphs a page uses, embedded
- :mod:`crmlab.reporting.sanitize` — escaped tables and the allowlist cleaner every page passes

This layer imports no runner module; :mod:`crmlab.runner` imports it.
"""
