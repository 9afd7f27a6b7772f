#!/usr/bin/env bash
# A separate virtual environment with the `engine` extra (the pinned vllm, CPU torch), for the
# engine-parity tests, for producing the engine-argument data and for `validate --deep`. Kept out of
# the main environment (about 6 GB; about 6 minutes to build on 2 cores, from PyPI) and keyed by the
# pinned version, so a new pin builds a new one. Idempotent; rebuilt when missing or broken.
#   bash scripts/engine_venv.sh          build it (once), print where it is
#   bash scripts/engine_venv.sh --path   only print where it is (or would be)
# Afterwards: VLLM_ENGINE_PYTHON=$VENV/bin/python.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
VERSION="$(sed -n 's/^engine = \["vllm==\([^"]*\)"\]$/\1/p' "$ROOT/pyproject.toml")"
if [ -z "$VERSION" ]; then
  echo "pyproject.toml: no engine = [\"vllm==X.Y.Z\"] extra" >&2
  exit 2
fi
VENV="${VLLMCTL_ENGINE_VENV:-$HOME/.cache/vllmctl/engine-vllm-$VERSION}"
if [ "${1:-}" = "--path" ]; then
  echo "$VENV"
  exit 0
fi
# Ready: a finished build (the marker is written last) that still has the pinned vllm. Importing
# vllm to check would cost a minute on a loaded 2-core machine; the build itself imports it once.
MARKER="$VENV/.vllmctl-engine-ready"
ready() {
  [ -f "$MARKER" ] && "$VENV/bin/python" -c \
    "import importlib.metadata as m, sys; sys.exit(m.version('vllm') != '$VERSION')" >/dev/null 2>&1
}
mkdir -p "$(dirname "$VENV")"
exec 9>"$VENV.lock"
flock 9  # one build at a time (parallel `just setup` runs wait for it)
if ready; then
  echo "engine venv ready: $VENV (vllm $VERSION)"
  exit 0
fi
echo "building the engine venv (vllm $VERSION, CPU torch) in $VENV: about 6 GB, a few minutes, once"
rm -rf "$VENV"  # half-built or broken: start over
python3 -m venv "$VENV"
# The CPU build of torch first, so vllm's pin takes it instead of several GB of CUDA packages.
"$VENV/bin/pip" install --quiet --disable-pip-version-check "torch==2.13.0"
"$VENV/bin/pip" install --quiet --disable-pip-version-check "vllm==$VERSION"
# pip drags in CUDA builds of these; vllm's argument parsing and config do not need them and
# `import vllm` fails with them (operator torchvision::nms does not exist).
"$VENV/bin/pip" uninstall --quiet --yes torchvision torchaudio torchcodec || true
VLLM_TARGET_DEVICE=cpu "$VENV/bin/python" -c "import sys, vllm; sys.exit(vllm.__version__ != '$VERSION')" ||
  { echo "the engine venv at $VENV does not import vllm $VERSION" >&2; exit 1; }
touch "$MARKER"
echo "engine venv ready: $VENV (vllm $VERSION)"
