"""vllmctl: install and operate the vLLM production stack on Kubernetes from a models.yaml."""

__version__ = "0.1.0"

import os as _os

# pydantic scans every installed distribution for plugins on first use (~20 ms of start-up);
# vllmctl uses none.
_os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
