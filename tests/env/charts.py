"""The real vllm-stack chart packages and their values schemas: test input, never committed.

One setting says where they are: VLLMCTL_TEST_CHARTS, a directory of `vllm-stack-<version>.tgz`.
When it is unset, `../shared/charts` beside the repository (CI lays it out so); else a cache
(`~/.cache/vllmctl/charts`) that `helm pull` fills from VLLM_CHART_REPO when there is a network.
The values schemas (`vllm-stack-<version>.values.schema.json`) are looked up in `<dir>/schemas`,
then `<dir>/../reference/schemas` (the shared docs' layout).

A chart or schema that cannot be had is a skip with the reason, and a failure under
VLLMCTL_REQUIRE_REAL_SERVERS=1 (see plugin.py: the fixtures are in REAL_FIXTURES).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
VERSIONS = ("0.1.8", "0.1.9", "0.1.10", "0.1.11", "0.1.12")
DEFAULT_REPO = "https://vllm-project.github.io/production-stack"
# The only edit of a real chart tests may make: Kubernetes 1.20 (the newest API server that builds
# here) does not serve policy/v1, which 0.1.8 renders unconditionally in this template.
K8S_120_DROPPED = {"0.1.8": ("templates/poddisruptionbudget.yaml",)}


class ChartUnavailable(RuntimeError):
    """A real chart package or schema cannot be had on this machine."""


def _cache() -> Path:
    return Path(os.environ.get("VLLMCTL_CHART_CACHE") or Path.home() / ".cache/vllmctl/charts")


def charts_dir() -> Path | None:
    """Where the packages are, by the order in the module docstring (None: only the pull cache)."""
    given = os.environ.get("VLLMCTL_TEST_CHARTS", "").strip()
    if given:
        return Path(given).expanduser().resolve()
    shared = REPO.parent / "shared" / "charts"
    return shared if shared.is_dir() else None


def _pull(version: str, into: Path) -> Path:
    from .procs import helm_binary

    into.mkdir(parents=True, exist_ok=True)
    repo = os.environ.get("VLLM_CHART_REPO") or DEFAULT_REPO
    try:
        proc = subprocess.run(
            [helm_binary(), "pull", "vllm-stack", "--repo", repo, "--version", version, "-d", str(into)],
            capture_output=True, text=True, timeout=60,
        )
    except (OSError, subprocess.TimeoutExpired, RuntimeError) as e:
        raise ChartUnavailable(f"vllm-stack {version}: helm pull from {repo} failed: {e}") from None
    target = into / f"vllm-stack-{version}.tgz"
    if proc.returncode != 0 or not target.is_file():
        err = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise ChartUnavailable(f"vllm-stack {version}: not in {charts_dir() or 'VLLMCTL_TEST_CHARTS (unset)'} "
                               f"and helm pull from {repo} failed: {err}")
    return target


def chart_package(version: str) -> Path:
    """The packaged real chart `vllm-stack-<version>.tgz`."""
    where = charts_dir()
    if where is not None:
        path = where / f"vllm-stack-{version}.tgz"
        if path.is_file():
            return path
        if os.environ.get("VLLMCTL_TEST_CHARTS", "").strip():
            raise ChartUnavailable(f"VLLMCTL_TEST_CHARTS={where} has no vllm-stack-{version}.tgz")
    cached = _cache() / f"vllm-stack-{version}.tgz"
    return cached if cached.is_file() else _pull(version, _cache())


def schema_file(version: str) -> Path:
    """The chart repository's values.schema.json of that version (the package drops it)."""
    where = charts_dir()
    candidates = [] if where is None else [where / "schemas", where.parent / "reference" / "schemas"]
    for d in candidates:
        path = d / f"vllm-stack-{version}.values.schema.json"
        if path.is_file():
            return path
    raise ChartUnavailable(
        f"no vllm-stack {version} values schema in {', '.join(map(str, candidates)) or 'any known place'} "
        "(set VLLMCTL_TEST_CHARTS to a directory of chart packages with a schemas/ folder)")


def chart_for_test_server(version: str, workdir: Path) -> Path:
    """What an install on the 1.20 test API server may use: the package itself, or for 0.1.8 an
    unpacked temporary copy without exactly the policy/v1 PodDisruptionBudget template."""
    package = chart_package(version)
    dropped = K8S_120_DROPPED.get(version)
    if not dropped:
        return package
    return unpacked_copy(version, workdir, drop=dropped)


def unpacked_copy(version: str, workdir: Path, drop: tuple[str, ...] = ()) -> Path:
    """A temporary directory copy of the real chart (for tests that derive a chart that fails on
    purpose, or the 1.20 copy above); `drop` names files relative to the chart root to remove."""
    target = workdir / f"vllm-stack-{version}-copy"
    if target.exists():
        shutil.rmtree(target)
    workdir.mkdir(parents=True, exist_ok=True)
    with tarfile.open(chart_package(version), "r:gz") as tar:
        tar.extractall(workdir / f".unpack-{version}", filter="data")
    shutil.move(str(workdir / f".unpack-{version}" / "vllm-stack"), target)
    shutil.rmtree(workdir / f".unpack-{version}", ignore_errors=True)
    for rel in drop:
        (target / rel).unlink()
    return target


def template_docs(helm_bin: str, chart: Path, values_text: str) -> list[dict]:
    """`helm template` of `chart` with these values (on stdin): its objects."""
    import yaml

    proc = subprocess.run([helm_bin, "template", "vllm", str(chart), "--values", "-"], input=values_text,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return [d for d in yaml.safe_load_all(proc.stdout) if d]
