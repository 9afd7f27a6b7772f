"""Rules for where and how engine pods run that need the settings as well as the entry: the GPU
vendor against the runtime class and image, and chat template files."""

from __future__ import annotations

import re

from vllmctl.core.gpu_types import is_mig
from vllmctl.core.models import ModelEntry

NVIDIA = "nvidia.com"
# The NVIDIA container runtime cannot start an AMD or Intel GPU container.
OTHER_VENDORS = {"amd.com": "AMD", "gpu.intel.com": "Intel"}
CUDA_IMAGES = ("vllm/vllm-openai", "lmcache/vllm-openai")
CONFIGMAP_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
# A chat template travels in the Helm values and a ConfigMap; both sit in objects capped at 1 MiB.
CHAT_TEMPLATE_MAX = 256 * 1024


def gpu_resource(m: ModelEntry) -> str:
    return m.requestGPUType or f"{NVIDIA}/gpu"


def vendor_problems(m: ModelEntry, runtime_class: str, image: str) -> tuple[list[tuple[tuple, str]], list[str]]:
    """(errors at entry paths, warnings) for a model whose GPUs are not NVIDIA's, or MIG slices."""
    domain = gpu_resource(m).split("/", 1)[0]
    vendor = OTHER_VENDORS.get(domain)
    if is_mig(gpu_resource(m)) and m.requestGPU > 1:
        # CUDA enumerates one MIG device per process, so an engine cannot spread over several.
        return [(("requestGPU",), f"{gpu_resource(m)} is a MIG slice and a CUDA process uses only one: "
                                  f"requestGPU {m.requestGPU} cannot serve one engine; request 1 slice (a bigger "
                                  "MIG profile), or whole GPUs (nvidia.com/gpu) for tensor parallelism")], []
    if vendor is None or not m.requestGPU:
        return [], []
    errors, warnings = [], []
    effective = m.runtimeClassName if m.runtimeClassName is not None else runtime_class
    if effective == "nvidia":
        where = ("runtimeClassName",) if m.runtimeClassName is not None else ("requestGPUType",)
        errors.append((where, f"{gpu_resource(m)} is an {vendor} GPU but the pod would run with the NVIDIA runtime "
                              f"class {effective!r}: set runtimeClassName: \"\" (or your {vendor} runtime class) "
                              "for this model"))
    if (m.image or image) in CUDA_IMAGES:
        warnings.append(f"model {m.name!r} asks for {gpu_resource(m)} but runs the CUDA image {m.image or image}: "
                        f"set image to an {vendor} build of vLLM (for AMD, e.g. rocm/vllm)")
    return errors, warnings


def chat_template_problem(key: str, data: bytes) -> str | None:
    """Why a chat template file cannot be mounted, or None."""
    if not CONFIGMAP_KEY.match(key):
        return f"the file name {key!r} cannot be a ConfigMap key: use letters, digits, '-', '_' and '.'"
    if len(data) > CHAT_TEMPLATE_MAX:
        return f"the chat template is {len(data)} bytes; at most {CHAT_TEMPLATE_MAX} fit the Helm release"
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        return f"the chat template is not UTF-8 text (byte {e.start})"
    bad = next((c for c in text if ord(c) < 32 and c not in "\n\t" or c == "\x7f"), None)
    if bad is not None:
        return f"the chat template holds the control character {bad!r}"
    if not text.strip():
        return "the chat template file is empty"
    return None
