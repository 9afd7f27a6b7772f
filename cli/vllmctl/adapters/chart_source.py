"""Where the vllm-stack chart comes from: VLLM_CHART (directory, .tgz, oci://), a vendored copy
in charts/ (written by `vllmctl chart pull`), else the Helm repository at the pinned version."""

from __future__ import annotations

import tarfile
from dataclasses import dataclass
from pathlib import Path

from vllmctl.core.settings import Settings
from vllmctl.errors import InvalidInput, OperationFailed, Unreachable

CHART_NAME = "vllm-stack"
VENDOR_DIR = Path("charts")


@dataclass(frozen=True)
class ChartRef:
    ref: str  # what helm gets as the chart argument
    repo: str | None  # --repo, for a repository chart
    version: str | None  # --version, for repository and OCI charts
    chart_version: str  # the version whose capabilities rendering uses
    local: bool

    def describe(self) -> str:
        if self.repo:
            return f"{CHART_NAME} {self.version} from {self.repo}"
        return f"{self.ref} (version {self.chart_version})"

    @property
    def label(self) -> str:
        """How helm names the chart in a release: name-version."""
        return f"{CHART_NAME}-{self.chart_version}"


def vendored_path(version: str, base: Path = VENDOR_DIR) -> Path:
    return base / f"{CHART_NAME}-{version}.tgz"


def _chart_yaml_version(text: str, where: str) -> str:
    import yaml

    try:
        data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) or {}
    except yaml.YAMLError as e:
        raise InvalidInput(f"{where}: Chart.yaml is not valid YAML: {e}.") from None
    version = str(data.get("version") or "")
    if not version:
        raise InvalidInput(f"{where}: Chart.yaml has no version.")
    return version


def _top_level_file(tar: tarfile.TarFile, name: str) -> tarfile.TarInfo | None:
    """The chart's own `name` (chart-name/name, not a subchart's), reading the archive only as far
    as it: helm packages Chart.yaml first, and reading every member would unpack the whole chart."""
    return next((m for m in tar if m.name.count("/") == 1 and m.name.endswith(f"/{name}")), None)


def _member_text(tar: tarfile.TarFile, member: tarfile.TarInfo, path: Path) -> str:
    data = tar.extractfile(member)
    if data is None:  # a directory or link where the chart's file should be
        raise InvalidInput(f"{path}: {member.name} in the chart archive is not a file.")
    return data.read().decode()


def local_chart_version(path: Path) -> str:
    """The `version` of a chart directory or packaged .tgz."""
    if path.is_dir():
        chart_yaml = path / "Chart.yaml"
        if not chart_yaml.is_file():
            raise InvalidInput(f"VLLM_CHART={path}: not a chart directory (no Chart.yaml).")
        return _chart_yaml_version(chart_yaml.read_text(encoding="utf-8"), str(path))
    try:
        with tarfile.open(path, "r:gz") as tar:
            member = _top_level_file(tar, "Chart.yaml")
            if member is None:
                raise InvalidInput(f"VLLM_CHART={path}: no Chart.yaml in the archive.")
            return _chart_yaml_version(_member_text(tar, member, path), str(path))
    except (tarfile.TarError, OSError) as e:
        raise InvalidInput(f"VLLM_CHART={path}: cannot read the chart archive: {e}.") from None


def local_values_text(path: Path) -> str:
    """The chart's own values.yaml (its defaults), from a chart directory or packaged .tgz."""
    if path.is_dir():
        return (path / "values.yaml").read_text(encoding="utf-8")
    try:
        with tarfile.open(path, "r:gz") as tar:
            member = _top_level_file(tar, "values.yaml")
            return _member_text(tar, member, path) if member is not None else ""
    except (tarfile.TarError, OSError) as e:
        raise InvalidInput(f"{path}: cannot read the chart archive: {e}.") from None


def resolve(settings: Settings, vendor_dir: Path = VENDOR_DIR) -> ChartRef:
    chart = settings.chart.strip()
    if chart.startswith("oci://"):
        return ChartRef(chart, None, settings.chart_version, settings.chart_version, False)
    if chart:
        path = Path(chart).expanduser()
        if not path.exists():
            raise InvalidInput(f"VLLM_CHART={chart}: no such chart directory or archive.",
                               hint="Give a chart directory, a .tgz, or an oci:// reference.")
        return ChartRef(str(path.resolve()), None, None, local_chart_version(path), True)
    vendored = vendored_path(settings.chart_version, vendor_dir)
    if vendored.is_file():
        return ChartRef(str(vendored.resolve()), None, None, settings.chart_version, True)
    return ChartRef(CHART_NAME, settings.chart_repo, settings.chart_version, settings.chart_version, False)


def settings_for(settings: Settings, chart: ChartRef) -> Settings:
    """Settings whose chart_version is the chart's own, so rendering uses that version's capabilities."""
    import dataclasses

    if chart.chart_version == settings.chart_version:
        return settings
    return dataclasses.replace(settings, chart_version=chart.chart_version)


INDEX_TIMEOUT = 15  # seconds for a repository's index.yaml


def check_listed(chart: ChartRef) -> None:
    """The repository answers and its index lists the chart at this version (what helm will fetch)."""
    import httpx
    import yaml

    assert chart.repo is not None, "a repository chart (the caller checks)"
    url = chart.repo.rstrip("/") + "/index.yaml"
    try:
        response = httpx.get(url, timeout=INDEX_TIMEOUT, follow_redirects=True)
    except httpx.HTTPError as e:
        raise Unreachable(f"cannot reach the chart repository {chart.repo} ({type(e).__name__}).",
                          hint="Check VLLM_CHART_REPO and the network, or vendor the chart with "
                          "`vllmctl chart pull` where it is reachable.") from None
    if response.status_code != 200:
        raise Unreachable(f"the chart repository {chart.repo} answered {response.status_code} for index.yaml.",
                          hint="Check VLLM_CHART_REPO.")
    try:
        entries = (yaml.load(response.text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) or {})["entries"]
        versions = {str(e.get("version")) for e in entries.get(CHART_NAME) or []}
    except (yaml.YAMLError, KeyError, TypeError, AttributeError):
        raise OperationFailed(f"{url} is not a Helm repository index.", hint="Check VLLM_CHART_REPO.") from None
    if chart.version not in versions:
        raise OperationFailed(f"the chart repository {chart.repo} has no {CHART_NAME} {chart.version}.",
                              hint="Set VLLM_CHART_VERSION to a version it lists.")
