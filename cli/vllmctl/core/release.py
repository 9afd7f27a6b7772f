"""A Helm release's newest revision as the workflows see it (adapters.helm reads it from `helm history`)."""

from __future__ import annotations

from dataclasses import dataclass

PENDING = ("pending-install", "pending-upgrade", "pending-rollback")


@dataclass(frozen=True)
class ReleaseInfo:
    revision: int
    status: str
    chart: str  # name-version, e.g. vllm-stack-0.1.8
    updated: str
    description: str

    @property
    def pending(self) -> bool:
        return self.status in PENDING
