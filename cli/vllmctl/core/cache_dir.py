"""Where vllmctl keeps what it can make again (model facts, engine configs, compiled templates)."""

from __future__ import annotations

import os
from pathlib import Path


def user_cache_dir(name: str) -> Path:
    """~/.cache/vllmctl/<name>, or under XDG_CACHE_HOME where that is set."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "vllmctl" / name
