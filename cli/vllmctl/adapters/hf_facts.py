"""Model facts from the Hugging Face Hub through huggingface_hub (imported only when asked).

model_info with file metadata gives the commit a revision resolves to, every file's size and the
Hub's safetensors parameter counts per dtype; config.json comes through hf_hub_download into a
Hugging Face cache under vllmctl's own cache directory. HF_ENDPOINT is honoured. The token is sent
only for repositories that need one (gated or private), only in the Authorization header that
huggingface_hub builds; it is never logged, never in a URL, never in an exception message.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from vllmctl.adapters.hf import HubAuthError, HubError, HubNotFound, HubUnreachable, _check_repo, endpoint_from_env

TokenSource = Callable[[], str | None]
_TRANSPORT_MODULES = {"httpx", "httpx2", "httpcore", "httpcore2", "huggingface_hub", "requests", "urllib3"}


def _translate(e: Exception, what: str, endpoint: str) -> HubError:
    """huggingface_hub's and httpx's errors as vllmctl's, with no token or URL query in them."""
    from huggingface_hub import errors

    if isinstance(e, errors.GatedRepoError):
        return HubAuthError(f"{what} is gated: the Hub wants a token that was granted access.",
                            hint="Set VLLM_HF_TOKEN or store one with `vllmctl set-hf-token`, and accept the "
                                 "license on the model's page.")
    if isinstance(e, errors.RevisionNotFoundError):
        return HubNotFound(f"{what}: that revision does not exist on the Hugging Face Hub.")
    if isinstance(e, errors.RepositoryNotFoundError):
        return HubNotFound(f"{what} was not found on the Hugging Face Hub, or it is private and the token cannot "
                           "see it.")
    if isinstance(e, errors.HfHubHTTPError):
        code = getattr(e.response, "status_code", None)
        if code in (401, 403):
            return HubAuthError(f"{what}: the Hugging Face Hub refused access (HTTP {code}).")
        if code == 404:
            return HubNotFound(f"{what} was not found on the Hugging Face Hub.")
        if code is None or code >= 500 or code == 429:
            return HubUnreachable(f"the Hugging Face Hub at {endpoint} answered HTTP {code} for {what}.")
        return HubError(f"the Hugging Face Hub answered HTTP {code} for {what}.")
    return HubUnreachable(f"cannot reach the Hugging Face Hub at {endpoint} ({type(e).__name__}).",
                          hint="Check the network or HF_ENDPOINT, or use --offline with cached facts.")


def _model_info(api, repo: str, revision: str, timeout: float, token):
    return api.model_info(repo, revision=revision, files_metadata=True, timeout=timeout, token=token)


def fetch_facts(repo: str, revision: str = "main", *, cache_dir: Path, token_source: TokenSource | None = None,
                endpoint: str | None = None, timeout: float = 10.0) -> dict[str, Any]:
    """The facts of `repo` at `revision` as core.model_facts.ModelFacts.from_dict reads them."""
    from huggingface_hub import HfApi, errors, hf_hub_download

    _check_repo(repo)
    endpoint = (endpoint or endpoint_from_env()).rstrip("/")
    what = f"model {repo}@{revision}"
    api = HfApi(endpoint=endpoint, token=False)  # never the user's stored token by accident
    token: str | bool = False
    try:
        try:
            info = _model_info(api, repo, revision, timeout, False)
        except errors.HfHubHTTPError as e:
            if getattr(e.response, "status_code", None) not in (401, 403, 404):
                raise
            token = (token_source() if token_source else None) or False
            if not token:
                raise
            info = _model_info(api, repo, revision, timeout, token)  # private: only the token sees it
        gated = getattr(info, "gated", False) or False
        if (gated or getattr(info, "private", False)) and not token:
            token = (token_source() if token_source else None) or False
        files = {s.rfilename: int(s.size) for s in (info.siblings or []) if s.size is not None}
        config = None
        if any(s.rfilename == "config.json" for s in info.siblings or []):
            path = hf_hub_download(repo, "config.json", revision=info.sha or revision, cache_dir=cache_dir / "hub",
                                   token=token, endpoint=endpoint, etag_timeout=timeout)
            config = json.loads(Path(path).read_text(encoding="utf-8"))
    except errors.HfHubHTTPError as e:
        raise _translate(e, what, endpoint) from None
    except ValueError as e:
        raise HubError(f"config.json of {what} is not valid JSON ({e.__class__.__name__}).") from None
    except Exception as e:
        # the transport's errors (huggingface_hub ships its own httpx), timeouts, refused connections
        if isinstance(e, OSError) or type(e).__module__.split(".")[0] in _TRANSPORT_MODULES:
            raise _translate(e, what, endpoint) from None
        raise
    safetensors = dict(info.safetensors.parameters) if getattr(info, "safetensors", None) else None
    return {
        "repo": repo, "revision": revision, "sha": info.sha, "config": config if isinstance(config, dict) else None,
        "safetensors": safetensors, "files": files, "gated": gated,
        "fetched_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
