"""Thin Typer commands: parse flags, build settings, call a workflow, print."""

# Each module has register(app); order is the order of `vllmctl --help`, the value its panel there.
MODULES = {"models": "Models", "secrets": "Secrets", "deploy": "Deploy", "plan": "Plan", "ops": "Operate", "api": "API"}
