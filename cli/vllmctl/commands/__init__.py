"""Thin Typer commands: parse flags, build settings, call a workflow, print."""

# Each module has register(app); order is the order of `vllmctl --help`.
MODULES = ("models", "secrets", "deploy", "ops", "api")
