"""Provenance of a report: the code version, the package versions and the data fingerprint.

The runner writes them into every ``results.json`` (``provenance``) and skips a campaign whose
spec, data fingerprint, code version and report language are unchanged since its last good run.

Examples
--------
>>> sorted(code_version())
['crmlab_version', 'git_commit', 'git_dirty', 'source_hash']
"""
from __future__ import annotations

import hashlib
import platform
import subprocess
from pathlib import Path
from typing import Any, Iterable

import crmlab

__all__ = ["KEY_PACKAGES", "package_versions", "code_version", "data_fingerprint",
           "sha256_files"]

PACKAGE_DIR = Path(__file__).resolve().parent
#: Packages whose versions go into the provenance.
KEY_PACKAGES = ("pandas", "numpy", "scipy", "statsmodels", "lifelines", "duckdb",
                "ibis-framework", "pyarrow", "matplotlib", "seaborn", "papermill", "nbconvert",
                "pyyaml")


def sha256_files(paths: Iterable[Path], base: Path | None = None) -> str:
    """A SHA-256 over the names and contents of ``paths`` (sorted)."""
    h = hashlib.sha256()
    for p in sorted(paths):
        name = str(p.relative_to(base)) if base else p.name
        h.update(name.encode("utf-8") + b"\0")
        with open(p, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
        h.update(b"\0")
    return h.hexdigest()


def package_versions() -> dict[str, str | None]:
    """Versions of Python and crmlab's key dependencies (None when not installed).

    Examples
    --------
    >>> "pandas" in package_versions()
    True
    """
    from importlib import metadata

    out: dict[str, str | None] = {"python": platform.python_version(),
                                  "crmlab": crmlab.__version__}
    for name in KEY_PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def _git(*args: str, cwd: Path) -> str | None:
    try:
        res = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True,
                             timeout=20)
    except (OSError, subprocess.SubprocessError):
        return None
    return res.stdout if res.returncode == 0 else None


def code_version(notebook: str | Path | None = None) -> dict[str, Any]:
    """The code a report was produced with.

    Returns ``crmlab_version``, ``git_commit`` and ``git_dirty`` (None outside a git checkout)
    and ``source_hash``: a SHA-256 of crmlab's Python sources, its templates and the report
    notebook, so that uncommitted edits also count as a new code version.

    Examples
    --------
    >>> sorted(code_version())
    ['crmlab_version', 'git_commit', 'git_dirty', 'source_hash']
    """
    commit = _git("rev-parse", "HEAD", cwd=PACKAGE_DIR)
    dirty = None
    if commit is not None:
        status = _git("status", "--porcelain", "--untracked-files=no", cwd=PACKAGE_DIR)
        dirty = bool(status.strip()) if status is not None else None
    files = [p for p in PACKAGE_DIR.rglob("*")
             if p.is_file() and (p.suffix in (".py", ".j2", ".json", ".ipynb"))
             and "__pycache__" not in p.parts]
    if notebook is not None and Path(notebook).is_file():
        files.append(Path(notebook).resolve())
    return {
        "crmlab_version": crmlab.__version__,
        "git_commit": commit.strip() if commit else None,
        "git_dirty": dirty,
        "source_hash": sha256_files(files),
    }


def data_fingerprint(path: str | Path) -> str:
    """A stable hash of a data source, used to skip unchanged reruns.

    Uses :meth:`crmlab.data.CRMData.fingerprint` (loading also checks the data against the
    contract).

    Raises
    ------
    FileNotFoundError
        The data directory does not exist.
    crmlab.DataContractError
        The data break the contract.

    Examples
    --------
    >>> data_fingerprint("data/demo")  # doctest: +SKIP
    '3f1a...'
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"data directory not found: {path}")
    from crmlab.data.io import load

    return str(load(path).fingerprint())
