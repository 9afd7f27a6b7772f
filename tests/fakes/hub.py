"""A local stand-in for the Hugging Face Hub on 127.0.0.1, for adapter and workflow tests.

    with FakeHub(repos={"org/m": FakeRepo(config={...}, gated="manual", allowed={"tok"})},
                 tokens={"tok": "alice"}) as hub:
        HubClient(hub.url).config_json("org/m", token="tok")

It answers like the Hub does for the endpoints vllmctl uses: /api/models/{repo} (401 for a
private repo the token cannot see), /api/whoami-v2, and HEAD/GET /{repo}/resolve/{rev}/config.json
(401 without a token on gated or private repos, 403 with a token that was not granted access).
Every request is recorded (method, path, headers) so tests can check where a token went.
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class FakeRepo:
    config: dict[str, Any] | None = None  # None: the repository has no config.json
    gated: bool | str = False  # False, "auto" or "manual", as the Hub reports it
    private: bool = False
    allowed: set[str] = field(default_factory=set)  # tokens granted access (gated or private)
    revisions: dict[str, dict[str, Any]] = field(default_factory=dict)  # revision -> config.json


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

    def _send(self, status: int, payload: Any, body: bool) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
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
            repo = fake.repos.get(path[len("/api/models/"):])
            name = path[len("/api/models/"):]
            if repo is None or (repo.private and token not in repo.allowed):
                # Like the Hub: anonymous callers get 401 so private repositories do not leak.
                status = 404 if token in fake.tokens else 401
                return self._send(status, {"error": "Repository not found"}, body)
            return self._send(200, {"id": name, "modelId": name, "gated": repo.gated,
                                    "private": repo.private, "sha": "0" * 40}, body)
        m = _RESOLVE.match(path)
        if m:
            repo = fake.repos.get(m["repo"])
            if repo is None:
                return self._send(404, {"error": "Repository not found"}, body)
            if repo.gated or repo.private:
                if token is None or token not in fake.tokens:
                    return self._send(401, {"error": "Access to this model is restricted"}, body)
                if token not in repo.allowed:
                    return self._send(403, {"error": "Not in the authorized list"}, body)
            config = repo.revisions.get(m["rev"]) if m["rev"] != "main" else repo.config
            if m["file"] != "config.json" or config is None:
                return self._send(404, {"error": "Entry not found"}, body)
            return self._send(200, config, body)
        return self._send(404, {"error": "not found"}, body)
