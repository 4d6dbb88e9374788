"""CRM as a whole (numbers only): the cumulative impact of the program against the global
holdout, message fatigue across campaigns, and interactions of overlapping campaigns.

See ``docs/program.md`` for the estimands and their assumptions.
"""
from crmlab.program.impact import ProgramImpact, evaluate_program, program_population

__all__ = ["ProgramImpact", "evaluate_program", "program_population"]
