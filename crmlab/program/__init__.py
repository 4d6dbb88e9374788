"""CRM as a whole (numbers only): the cumulative impact of the program against the global
holdout, message fatigue across campaigns, and interactions of overlapping campaigns.

See ``docs/program.md`` for the estimands and their assumptions.
"""
from crmlab.program.cap import CapResult, frequency_cap
from crmlab.program.fatigue import FatigueResult, fatigue
from crmlab.program.impact import ProgramImpact, evaluate_program, program_population
from crmlab.program.overlaps import OverlapResult, overlaps

__all__ = ["CapResult", "FatigueResult", "ProgramImpact", "evaluate_program", "fatigue",
           "frequency_cap", "OverlapResult", "overlaps", "program_population"]
