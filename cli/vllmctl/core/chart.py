"""What each vllm-stack chart version understands, as far as vllmctl renders it."""

from __future__ import annotations

KNOWN_VERSIONS = ("0.1.8", "0.1.9", "0.1.10", "0.1.11", "0.1.12")
NEWEST = KNOWN_VERSIONS[-1]

# models.yaml keys that render to a chart key added after 0.1.8 (everything else exists in 0.1.8).
MODEL_KEY_SINCE = {
    "autoscaling": "0.1.9",
    "tolerations": "0.1.11",
    "modelRevision": "0.1.12",
}


def version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def at_least(chart_version: str, since: str) -> bool:
    """Whether chart `chart_version` is `since` or newer."""
    return version_tuple(chart_version) >= version_tuple(since)


def supports(chart_version: str, key: str) -> bool:
    since = MODEL_KEY_SINCE.get(key)
    return since is None or at_least(chart_version, since)


def effective_version(chart_version: str) -> tuple[str, str | None]:
    """The version whose capabilities apply, and a warning when the chart is newer than any checked."""
    if chart_version in KNOWN_VERSIONS:
        return chart_version, None
    if version_tuple(chart_version) > version_tuple(NEWEST):
        return NEWEST, (
            f"chart version {chart_version} is newer than the versions vllmctl knows "
            f"({', '.join(KNOWN_VERSIONS)}); rendering as for {NEWEST}"
        )
    raise ValueError(
        f"chart version {chart_version} is not supported; use one of {', '.join(KNOWN_VERSIONS)}"
    )
