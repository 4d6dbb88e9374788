"""Run one benchmark function in a fresh process and print its result as JSON.

Usage: python benchmarks/_child.py MODULE FUNCTION '{"kwarg": ...}'
The function returns a dict with at least ``seconds`` (the timed operation only, imports and data
generation excluded). The parent process reads peak RSS from the child's rusage.
"""
from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

MARKER = "@@RESULT@@"


def main() -> None:
    module, function, kwargs = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    result = getattr(importlib.import_module(module), function)(**kwargs)
    if isinstance(result, (int, float)):
        result = {"seconds": float(result)}
    print(MARKER + json.dumps(result, default=str), flush=True)


if __name__ == "__main__":
    main()
