"""Hugging Face Hub metadata: model info, gated/private flags, token checks, config.json.

The token travels only in the Authorization header: it is never part of a URL, a log line or an
exception message. An unreachable Hub raises HubUnreachable so callers can fall back to offline
guesses; a missing repository raises HubNotFound.
"""

from __future__ import annotations

import os
import re
from typing import Any
from urllib.parse import quote

from vllmctl.errors import HubAuthError, HubError, HubNotFound, HubUnreachable

__all__ = ["HubAuthError", "HubClient", "HubError", "HubNotFound", "HubUnreachable"]

DEFAULT_ENDPOINT = "https://huggingface.co"
DEFAULT_TIMEOUT = 5.0
_REPO = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")


def endpoint_from_env() -> str:
    return (os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


def _check_repo(repo: str) -> str:
    if not _REPO.match(repo or "") or ".." in repo:
        raise HubNotFound(f"{repo!r} is not a Hugging Face repository id (expected org/name).")
    return repo


class HubClient:
    """A small synchronous client for the few Hub endpoints vllmctl needs."""

    def __init__(
        self,
        endpoint: str | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        token: str | None = None,
        transport: Any = None,
    ) -> None:
        self.endpoint = (endpoint or endpoint_from_env()).rstrip("/")
        self.timeout = timeout
        self._token = token or None
        self._transport = transport
        self._client: Any = None

    def __repr__(self) -> str:  # never show the token
        return f"HubClient({self.endpoint!r}, timeout={self.timeout})"

    # -- plumbing

    def _http(self):
        if self._client is None:
            import httpx  # heavy: only when the Hub is actually asked

            self._client = httpx.Client(
                base_url=self.endpoint,
                timeout=self.timeout,
                transport=self._transport,
                headers={"User-Agent": "vllmctl"},
            )
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def __enter__(self) -> HubClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _request(self, method: str, path: str, token: str | None, *, follow: bool = True):
        import httpx

        tok = token if token is not None else self._token
        headers = {"Authorization": f"Bearer {tok}"} if tok else {}
        try:
            return self._http().request(method, path, headers=headers, follow_redirects=follow)
        except httpx.TimeoutException:
            raise HubUnreachable(
                f"the Hugging Face Hub at {self.endpoint} did not answer within {self.timeout:g} s.",
                hint="Check the network or HF_ENDPOINT.",
            ) from None
        except httpx.HTTPError as e:
            raise HubUnreachable(
                f"cannot reach the Hugging Face Hub at {self.endpoint} ({type(e).__name__}).",
                hint="Check the network or HF_ENDPOINT.",
            ) from None

    def _raise_for(self, response, what: str) -> None:
        code = response.status_code
        if code < 400:
            return
        if code == 404:
            raise HubNotFound(f"{what} was not found on the Hugging Face Hub.")
        if code in (401, 403):
            raise HubAuthError(f"{what}: the Hugging Face Hub refused access (HTTP {code}).",
                               hint="Check the token and that it was granted access to the repository.")
        if code >= 500 or code == 429:
            raise HubUnreachable(f"the Hugging Face Hub answered HTTP {code} for {what}; try again later.")
        raise HubError(f"the Hugging Face Hub answered HTTP {code} for {what}.")

    # -- endpoints

    def model_info(self, repo: str, token: str | None = None) -> dict[str, Any]:
        """GET /api/models/{repo}: {id, gated: False | "auto" | "manual", private, sha, ...}.

        A private repository the token cannot see answers 401 on the Hub: reported as HubNotFound
        with access named, since the Hub does not tell the two apart.
        """
        _check_repo(repo)
        r = self._request("GET", f"/api/models/{repo}", token)
        if r.status_code == 401:
            raise HubNotFound(f"model {repo} was not found on the Hugging Face Hub, or it is private and "
                              "the token cannot see it.")
        self._raise_for(r, f"model {repo}")
        data = r.json()
        gated = data.get("gated", False)
        return {
            **data,
            "id": data.get("id") or data.get("modelId") or repo,
            "gated": gated if isinstance(gated, str) else bool(gated),
            "private": bool(data.get("private", False)),
        }

    def is_gated(self, repo: str, token: str | None = None) -> bool:
        """Whether downloading needs a token: gated (manual or auto approval) or private."""
        info = self.model_info(repo, token)
        return bool(info["gated"]) or info["private"]

    def whoami(self, token: str) -> dict[str, Any]:
        """GET /api/whoami-v2 with the token: who it belongs to; HubAuthError when invalid."""
        if not token:
            raise HubAuthError("no Hugging Face token was given to check.")
        r = self._request("GET", "/api/whoami-v2", token)
        if r.status_code == 401:
            raise HubAuthError("the Hugging Face token is not valid (the Hub answered HTTP 401).",
                               hint="Create a read token at https://huggingface.co/settings/tokens.")
        self._raise_for(r, "the token check")
        return r.json()

    def has_access(self, repo: str, token: str | None = None, revision: str = "main") -> bool:
        """Whether the token (or no token) may download the repository's config.json."""
        _check_repo(repo)
        r = self._request("HEAD", self._file_path(repo, revision, "config.json"), token, follow=False)
        if r.status_code in (401, 403):
            return False
        if r.status_code < 400:
            return True
        self._raise_for(r, f"model {repo}")
        return False

    def config_json(self, repo: str, revision: str = "main", token: str | None = None) -> dict[str, Any]:
        """The repository's config.json at a revision."""
        _check_repo(repo)
        r = self._request("GET", self._file_path(repo, revision, "config.json"), token)
        self._raise_for(r, f"config.json of {repo}@{revision}")
        try:
            data = r.json()
        except ValueError:
            raise HubError(f"config.json of {repo}@{revision} is not valid JSON.") from None
        if not isinstance(data, dict):
            raise HubError(f"config.json of {repo}@{revision} is not a JSON object.")
        return data

    @staticmethod
    def _file_path(repo: str, revision: str, filename: str) -> str:
        return f"/{repo}/resolve/{quote(revision, safe='')}/{filename}"
