# vllmctl: `just --list --list-submodules` shows every recipe.
set dotenv-load
set dotenv-filename := ".env.local"
set positional-arguments

mod vllm

[private]
default:
    @just --list --list-submodules

# Install vllmctl (editable) with its test tools, provision the real test servers and the pinned vLLM
# for the engine-parity tests (both cached per machine)
[no-exit-message]
setup:
    python3 -m pip install --quiet --disable-pip-version-check -e '.[test]'
    bash tests/env/provision.sh
    bash scripts/engine_venv.sh

# Set up, run the static checks, then the whole test suite (arguments go to pytest)
[no-exit-message]
test *ARGS: setup lint
    python3 -m pytest "$@"

# Static checks: ruff, and mypy over cli/ (configured in pyproject.toml)
[no-exit-message]
lint:
    python3 -m ruff check cli tests benchmarks scripts
    python3 -m mypy

# Benchmarks: start-up, rendering, engine-argument checks, the chart check, install, bench client, plan (prints figures)
[no-exit-message]
bench *ARGS:
    python3 benchmarks/run.py "$@"

# Regenerate the vLLM engine-argument data from the pinned vllm (builds a ~6 GB venv once)
[no-exit-message]
engine-data:
    bash scripts/engine_venv.sh
    VLLM_TARGET_DEVICE=cpu "$(bash scripts/engine_venv.sh --path)/bin/python" scripts/gen_engine_args.py

# Regenerate the chart interface data (core/chart_data/) from the packages in VLLMCTL_TEST_CHARTS or ../shared/charts
[no-exit-message]
chart-data:
    python3 scripts/gen_chart_interface.py
