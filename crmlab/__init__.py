"""crmlab: a Jupyter-first research and experimentation framework for CRM marketing analytics.

The top-level names are imported lazily so that ``import crmlab`` stays fast; the modules are
``crmlab.data``, ``crmlab.summaries``, ``crmlab.segments``, ``crmlab.cohorts``, ``crmlab.ltv``,
``crmlab.churn``, ``crmlab.abtest``, ``crmlab.campaign``, ``crmlab.experiments``,
``crmlab.uplift``, ``crmlab.runner``, ``crmlab.plots`` and ``crmlab.datasets``.
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0"

# public name -> "module:attribute"
_LAZY = {
    "load": "crmlab.data.io:load",
    "CRMData": "crmlab.data.io:CRMData",
    "DataContractError": "crmlab.data.errors:DataContractError",
    "simulate": "crmlab.data.simulate:simulate",
    "rfm_summary": "crmlab.summaries:rfm_summary",
}
_SUBMODULES = {
    "data", "summaries", "segments", "cohorts", "ltv", "churn", "abtest", "campaign",
    "experiments", "runner", "plots", "datasets", "cli", "uplift",
}

__all__ = sorted(_LAZY) + sorted(_SUBMODULES) + ["__version__"]


def __getattr__(name: str):
    if name in _LAZY:
        module, attr = _LAZY[name].split(":")
        value = getattr(importlib.import_module(module), attr)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        module = importlib.import_module(f"crmlab.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'crmlab' has no attribute {name!r}")


def __dir__():
    return __all__
