"""A local stand-in for the Hugging Face Hub on 127.0.0.1, for adapter and workflow tests.

    with FakeHub(repos={"org/m": FakeRepo(config={...}, gated="manual", allowed={"tok"})},
                 tokens={"tok": "alice"}) as hub:
        HubClient(hub.url).config_json("org/m", token="tok")

It answers like the Hub does for the endpoints vllmctl uses: /api/models/{repo}[/revision/{rev}]
(401 for a private repo the token cannot see; with ?blobs=true every file's size; the safetensors
parameter counts), /api/whoami-v2, and HEAD/GET /{repo}/resolve/{rev}/config.json with the
X-Repo-Commit and ETag headers huggingface_hub's downloads need (401 without a token on gated or
private repos, 403 with a token that was not granted access, X-Error-Code like the Hub's).
Every request is recorded (method, path, headers) so tests can check where a token went.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote


@dataclass
class FakeRepo:
    config: dict[str, Any] | None = None  # None: the repository has no config.json
    gated: bool | str = False  # False, "auto" or "manual", as the Hub reports it
    private: bool = False
    allowed: set[str] = field(default_factory=set)  # tokens granted access (gated or private)
    revisions: dict[str, dict[str, Any]] = field(default_factory=dict)  # revision -> config.json
    safetensors: dict[str, int] | None = None  # parameters per dtype, as the Hub reports them
    files: dict[str, int] = field(default_factory=dict)  # file name -> bytes (config.json is added)
    sha: str = "0" * 40  # the commit main resolves to

    def config_at(self, revision: str) -> dict[str, Any] | None:
        if revision in ("main", self.sha):
            return self.config
        by_sha = {self.sha_at(r): c for r, c in self.revisions.items()}
        return self.revisions.get(revision) or by_sha.get(revision)

    def sha_at(self, revision: str) -> str:
        return self.sha if revision in ("main", self.sha) else hashlib.sha1(revision.encode()).hexdigest()


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]


class FakeHub:
    def __init__(
        self,
        repos: dict[str, FakeRepo] | None = None,
        tokens: dict[str, str] | None = None,
        *,
        delay: float = 0.0,
        fail_status: int | None = None,
    ) -> None:
        self.repos = repos or {}
        self.tokens = tokens or {}  # token -> user name
        self.delay = delay
        self.fail_status = fail_status
        self.requests: list[Recorded] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self._server is not None, "FakeHub is not started"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeHub:
        hub = self

        class Handler(_Handler):
            fake = hub

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeHub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


_RESOLVE = re.compile(r"^/(?P<repo>[^/]+(?:/[^/]+)?)/resolve/(?P<rev>[^/]+)/(?P<file>.+)$")


class _Handler(BaseHTTPRequestHandler):
    fake: FakeHub
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:  # keep test output clean
        pass

    def do_GET(self) -> None:
        self._handle(body=True)

    def do_HEAD(self) -> None:
        self._handle(body=False)

    def _token(self) -> str | None:
        auth = self.headers.get("Authorization", "")
        return auth[len("Bearer "):] if auth.startswith("Bearer ") else None

    def _send(self, status: int, payload: Any, body: bool, *, code: str | None = None,
              extra: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if code:
            self.send_header("X-Error-Code", code)
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if body:
            self.wfile.write(data)

    def _handle(self, body: bool) -> None:
        fake = self.fake
        fake.requests.append(Recorded(self.command, self.path, dict(self.headers.items())))
        if fake.delay:
            time.sleep(fake.delay)
        if fake.fail_status:
            return self._send(fake.fail_status, {"error": "fake failure"}, body)
        token = self._token()
        path = self.path.split("?", 1)[0]
        if path == "/api/whoami-v2":
            if token not in fake.tokens:
                return self._send(401, {"error": "Invalid credentials in Authorization header"}, body)
            return self._send(200, {"type": "user", "name": fake.tokens[token],
                                    "auth": {"accessToken": {"role": "read"}}}, body)
        if path.startswith("/api/models/"):
            name, _, revision = path[len("/api/models/"):].partition("/revision/")
            revision = unquote(revision) or "main"
            repo = fake.repos.get(name)
            if repo is None or (repo.private and token not in repo.allowed):
                # Like the Hub: anonymous callers get 401 so private repositories do not leak.
                status = 404 if token in fake.tokens else 401
                return self._send(status, {"error": "Repository not found"}, body, code="RepoNotFound")
            if repo.config_at(revision) is None and revision not in ("main", repo.sha):
                return self._send(404, {"error": "Invalid rev id"}, body, code="RevisionNotFound")
            return self._send(200, self._info(name, repo, revision, "blobs=true" in self.path), body)
        m = _RESOLVE.match(path)
        if m:
            repo = fake.repos.get(m["repo"])
            if repo is None:
                return self._send(404, {"error": "Repository not found"}, body, code="RepoNotFound")
            if repo.gated or repo.private:
                if token is None or token not in fake.tokens:
                    return self._send(401, {"error": "Access to this model is restricted"}, body, code="GatedRepo")
                if token not in repo.allowed:
                    return self._send(403, {"error": "Not in the authorized list"}, body, code="GatedRepo")
            revision = unquote(m["rev"])
            config = repo.config_at(revision)
            if m["file"] != "config.json" or config is None:
                return self._send(404, {"error": "Entry not found"}, body, code="EntryNotFound")
            data = json.dumps(config).encode()
            return self._send(200, config, body, extra={"X-Repo-Commit": repo.sha_at(revision),
                                                        "ETag": f'"{hashlib.sha1(data).hexdigest()}"'})
        return self._send(404, {"error": "not found"}, body)

    @staticmethod
    def _info(name: str, repo: FakeRepo, revision: str, blobs: bool) -> dict[str, Any]:
        files = dict(repo.files)
        if repo.config_at(revision) is not None:
            files.setdefault("config.json", len(json.dumps(repo.config_at(revision))))
        siblings = [{"rfilename": f, **({"size": n} if blobs else {})} for f, n in sorted(files.items())]
        info = {"id": name, "modelId": name, "gated": repo.gated, "private": repo.private,
                "sha": repo.sha_at(revision), "siblings": siblings}
        if repo.safetensors:
            info["safetensors"] = {"parameters": repo.safetensors, "total": sum(repo.safetensors.values())}
        return info
