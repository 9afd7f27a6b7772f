"""Defaults of the models.yaml keys, in a module without pydantic so quick reads stay quick."""

DEFAULTS = {
    "enabled": True,
    "replicaCount": 1,
    "requestCPU": 6,
    "requestMemory": "16Gi",
    "requestGPU": 1,
    "pvcStorage": "50Gi",
}


def with_defaults(entry: dict) -> dict:
    return {**entry, **{k: v for k, v in DEFAULTS.items() if k not in entry}}
