"""CRM data: the contract (:mod:`~crmlab.data.schema`), loading and validation
(:mod:`~crmlab.data.io`), the data-quality ledger (:mod:`~crmlab.data.quality`) and the
simulated shop (:mod:`~crmlab.data.simulate`, imported on demand)."""
from __future__ import annotations

from crmlab.data.errors import DataContractError
from crmlab.data.io import CRMData, load, validate_command
from crmlab.data.schema import CONTRACT, TABLES, contract_frame

__all__ = ["CONTRACT", "CRMData", "DataContractError", "TABLES", "contract_frame", "load",
           "validate_command", "simulate"]


def __getattr__(name: str):
    if name == "simulate":
        from crmlab.data.simulate import simulate

        return simulate
    raise AttributeError(f"module 'crmlab.data' has no attribute {name!r}")
