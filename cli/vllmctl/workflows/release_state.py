"""The release as helm reads it (newest revision, its values, its manifest), read on the other core.

The install and upgrade commands start this before they import the rest of their workflow
(pydantic, the YAML and template libraries: about 0.3 s of one core), so helm has read the release
by the time the models are loaded and rendered; workflows.deploy starts it itself for a caller that
did not (diff). The same pool then renders the chart early.
This module imports only helm's adapter, to start as soon as the settings are known.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

from vllmctl.core.settings import Settings

if TYPE_CHECKING:  # workflows.ports imports the preflight checks, and they pydantic
    from vllmctl.workflows.ports import HelmReleases


async def read(helm: HelmReleases, release: str, namespace: str):
    """(newest revision, its values, its manifest): one helm history, then the two reads in parallel."""
    import asyncio

    current = await helm.latest(release, namespace)
    if current is None or current.pending or current.status == "uninstalled":
        return current, None, ""
    values, manifest = await asyncio.gather(helm.values(release, namespace), helm.manifest(release, namespace))
    return current, values, manifest


@dataclass
class Reading:
    helm: HelmReleases  # helm pointed where the kube client will connect
    pool: ThreadPoolExecutor  # one thread: the read, then the early `helm template`
    state: Future  # read()'s result, or helm's error


def start(settings: Settings) -> Reading:
    """helm reading the settings' release in a pool thread (shut the pool down when done with it)."""
    from vllmctl.adapters.helm import Helm
    from vllmctl.adapters.kube_client import location

    helm = Helm(location(settings.kube_context))
    pool = ThreadPoolExecutor(1)
    return Reading(helm, pool, pool.submit(helm.run, read(helm, settings.release, settings.namespace)))
