#!/usr/bin/env bash
# A separate virtual environment with the `engine` extra (vllm 0.32.0, CPU torch), for producing the
# engine-argument data and for `validate --deep`. Kept out of the main environment: about 6 GB.
# Idempotent. Afterwards: VLLM_ENGINE_PYTHON=$VENV/bin/python.
set -euo pipefail
VENV="${VLLMCTL_ENGINE_VENV:-$HOME/.cache/vllmctl/engine-venv}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
if "$VENV/bin/python" -c "import vllm" 2>/dev/null; then
  echo "engine venv ready: $VENV"
  exit 0
fi
python3 -m venv "$VENV"
# The CPU build of torch first, so vllm's pin takes it instead of several GB of CUDA packages.
"$VENV/bin/pip" install --quiet "torch==2.13.0"
"$VENV/bin/pip" install --quiet "$ROOT[engine]"
# pip drags in CUDA builds of these; vllm's argument parsing and config do not need them and
# `import vllm` fails with them (operator torchvision::nms does not exist).
"$VENV/bin/pip" uninstall --quiet --yes torchvision torchaudio torchcodec || true
VLLM_TARGET_DEVICE=cpu "$VENV/bin/python" -c "import vllm; print('engine venv ready:', vllm.__version__)"
