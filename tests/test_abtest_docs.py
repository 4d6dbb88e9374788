"""The examples in the crmlab.abtest docstrings run and print what they say."""
from __future__ import annotations

import doctest
import importlib
import warnings

import pytest

MODULES = ["proportions", "means", "ratio", "cuped", "integrity", "bayes", "design", "multiple",
           "sequential", "survival"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    mod = importlib.import_module(f"crmlab.abtest.{name}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = doctest.testmod(mod, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert res.attempted > 0 and res.failed == 0
