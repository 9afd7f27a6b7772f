"""Model facts for a set of models: the on-disk cache first, then the Hub, never a guess.

The cache holds one JSON file per repository and revision (`<cache>/<org>--<name>/<revision>.json`).
A commit id never changes, so its facts are used as long as they are there; a branch (main) is
asked again after CACHE_TTL_SECONDS. Offline (--offline, VLLM_OFFLINE or HF_HUB_OFFLINE=1), or with
the Hub unreachable, cached facts of any age are used and marked so; with nothing cached the
facts are "unknown" and every check that needs them says so.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from vllmctl.core.cache_dir import user_cache_dir
from vllmctl.core.model_facts import ModelFacts, unknown

CACHE_TTL_SECONDS = 24 * 3600
FETCH_TIMEOUT_SECONDS = 10.0
_COMMIT = re.compile(r"^[0-9a-f]{40}$")


def default_cache_dir() -> Path:
    return user_cache_dir("model-facts")


def offline_from_env() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def cache_path(cache_dir: Path, repo: str, revision: str) -> Path:
    return cache_dir / repo.strip("/").replace("/", "--") / f"{revision.replace('/', '--')}.json"


def read_cached(cache_dir: Path, repo: str, revision: str) -> tuple[ModelFacts, float] | None:
    """(facts, age in seconds), or None when nothing usable is cached."""
    path = cache_path(cache_dir, repo, revision)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return ModelFacts.from_dict(data, source="cache"), time.time() - path.stat().st_mtime
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write_cached(cache_dir: Path, facts: ModelFacts) -> None:
    path = cache_path(cache_dir, facts.repo, facts.revision)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(facts.as_dict(), sort_keys=True), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        pass  # the cache only saves time


def _fresh(revision: str, age: float) -> bool:
    return bool(_COMMIT.match(revision)) or age < CACHE_TTL_SECONDS


def one(repo: str, revision: str, *, cache_dir: Path, offline: bool, fetch=None, token_source=None,
        endpoint: str | None = None) -> ModelFacts:
    """Facts of one repository at one revision (see the module docstring for the order)."""
    from dataclasses import replace

    cached = read_cached(cache_dir, repo, revision)
    if cached and (offline or _fresh(revision, cached[1])):
        return cached[0]
    if offline:
        return unknown(repo, revision, "offline and nothing cached")
    from vllmctl.adapters.hf import HubError, HubUnreachable

    if fetch is None:
        from vllmctl.adapters.hf_facts import fetch_facts as fetch
    try:
        data = fetch(repo, revision, cache_dir=cache_dir, token_source=token_source, endpoint=endpoint,
                     timeout=FETCH_TIMEOUT_SECONDS)
    except HubUnreachable as e:
        if cached:
            return replace(cached[0], problem=f"the Hub is unreachable; cached facts of {cached[0].fetched_at}")
        return unknown(repo, revision, f"{e.message.rstrip('.')}; nothing cached")
    except HubError as e:
        return unknown(repo, revision, e.message.rstrip("."))
    facts = ModelFacts.from_dict(data, source="hub")
    write_cached(cache_dir, facts)
    return facts


def gather(wanted: Iterable[tuple[str, str]], *, cache_dir: Path, offline: bool, token_source=None,
           endpoint: str | None = None, fetch=None) -> dict[tuple[str, str], ModelFacts]:
    """Facts for every (repo, revision), the Hub asked in parallel for the ones not cached."""
    keys = list(dict.fromkeys(wanted))
    if not keys:
        return {}

    def get(key: tuple[str, str]) -> ModelFacts:
        return one(key[0], key[1], cache_dir=cache_dir, offline=offline, fetch=fetch, token_source=token_source,
                   endpoint=endpoint)

    if len(keys) == 1:
        return {keys[0]: get(keys[0])}
    with ThreadPoolExecutor(min(8, len(keys))) as pool:
        return dict(zip(keys, pool.map(get, keys), strict=True))
