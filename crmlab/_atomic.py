"""Atomic file writes and JSON that is always valid (no NaN): shared by the runner, the batch
supervisor and the page renderers.

A file is written to a temporary file in its own folder and renamed over the target
(:func:`os.replace`): readers see the old file or the complete new one, never a partial write.

Examples
--------
>>> import tempfile, pathlib
>>> p = atomic_write_json(pathlib.Path(tempfile.mkdtemp()) / "r.json", {"x": float("nan")})
>>> read_json(p)
{'x': None}
"""
from __future__ import annotations

import datetime as _dt
import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["atomic_write_text", "atomic_write_json", "json_safe", "read_json"]


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_FILE_MODE = 0o666 & ~_umask()


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` through a temporary file in the same folder and a rename.

    Readers see either the old file or the complete new one, never a partial write.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = atomic_write_text(pathlib.Path(tempfile.mkdtemp()) / "a.txt", "hello")
    >>> p.read_text()
    'hello'
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, _FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return path


def json_safe(value: Any) -> Any:
    """NaN/inf become None; numpy scalars and other objects become plain Python values."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if hasattr(value, "item"):  # numpy scalar
        return json_safe(value.item())
    if isinstance(value, (_dt.date, _dt.datetime)):
        return value.isoformat()
    return str(value)


def atomic_write_json(path: str | Path, data: Any) -> Path:
    """Write JSON (NaN as null, keys in insertion order, UTF-8) atomically."""
    text = json.dumps(json_safe(data), indent=2, ensure_ascii=False, allow_nan=False)
    return atomic_write_text(path, text + "\n")


def read_json(path: str | Path) -> dict | None:
    """The JSON content of ``path``; None when it is missing or not valid JSON."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
