"""Every flag that sets a setting names its environment variable (shown in --help)."""

from __future__ import annotations

from typer.main import get_command

from vllmctl.commands.app import build_app
from vllmctl.core.settings import setting_fields

# flags whose name differs from the setting they set
ALIASES = {"context": "kube_context", "timeout": "helm_timeout", "api_key": "api_key_enabled"}


def test_setting_flags_declare_their_variable():
    envs = {f.name: f.metadata["env"] for f in setting_fields()}
    commands = get_command(build_app()).commands
    checked, wrong = 0, []
    for name, command in commands.items():
        for param in command.params:
            setting = ALIASES.get(param.name, param.name)
            if setting not in envs or not getattr(param, "opts", None) or not param.opts[0].startswith("--"):
                continue
            if param.name == "timeout" and name in ("test-completions", "list-api-models", "smoke", "bench"):
                continue  # request timeouts in seconds, not the Helm rollout timeout
            checked += 1
            if param.envvar != envs[setting]:
                wrong.append(f"{name} {param.opts[0]}: envvar {param.envvar!r}, expected {envs[setting]!r}")
    assert checked > 50
    assert not wrong, wrong
