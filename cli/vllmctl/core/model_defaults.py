"""Defaults of the models.yaml keys, in a module without pydantic so quick reads stay quick."""

from typing import TypedDict


class Defaults(TypedDict):
    enabled: bool
    replicaCount: int
    requestCPU: int
    requestMemory: str
    requestGPU: int
    pvcStorage: str


DEFAULTS: Defaults = {
    "enabled": True,
    "replicaCount": 1,
    "requestCPU": 6,
    "requestMemory": "16Gi",
    "requestGPU": 1,
    "pvcStorage": "50Gi",
}


def with_defaults(entry: dict) -> dict:
    return {**entry, **{k: v for k, v in DEFAULTS.items() if k not in entry}}
