"""vllmctl as the benchmarks run it: the package as pip installs it, with its bytecode compiled.

This machine (and CI) set PYTHONDONTWRITEBYTECODE, so a run from the source tree would compile
every one of vllmctl's ~60 modules from source on each start (~0.1 s), which no installed copy
does. A copy in the benchmark's temporary directory gets the bytecode; the source tree stays as it is.
"""

from __future__ import annotations

import compileall
import shutil
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def cli_path(workdir: Path) -> str:
    """A PYTHONPATH entry with a compiled copy of the vllmctl package."""
    root = workdir / "installed"
    shutil.copytree(REPO / "cli" / "vllmctl", root / "vllmctl", ignore=shutil.ignore_patterns("__pycache__"))
    if not compileall.compile_dir(root / "vllmctl", quiet=1):
        raise RuntimeError("could not compile the vllmctl copy")
    return str(root)
