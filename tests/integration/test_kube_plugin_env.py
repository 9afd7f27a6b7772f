"""A kubeconfig exec credential plugin, started by the kubernetes client and by helm, never sees
vllmctl's secrets in its environment (it does see the kubeconfig's own `env` and PATH)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml

from tests.helpers import run_cli

PLUGIN = """
import json, os, sys
with open(sys.argv[1], "a") as out:
    out.write(json.dumps(dict(os.environ)) + "\\n")
print(json.dumps({"apiVersion": "client.authentication.k8s.io/v1beta1", "kind": "ExecCredential",
                  "status": {"token": sys.argv[2]}}))
"""
SECRETS = {"VLLM_HF_TOKEN": "hf_pluginLeakCheck0123456789abcdef", "VLLM_API_KEY": "sk-plugin-leak-check-4242",
           "VAULT_TOKEN": "hvs.pluginLeakCheck77"}


def test_exec_plugins_get_the_child_environment(tmp_path, kube_env):
    plugin, seen = tmp_path / "plugin.py", tmp_path / "seen.jsonl"
    plugin.write_text(PLUGIN)
    config = yaml.safe_load(Path(kube_env.kubeconfig).read_text())
    config["users"][0]["user"] = {"exec": {
        "apiVersion": "client.authentication.k8s.io/v1beta1", "command": sys.executable,
        "args": [str(plugin), str(seen), kube_env.token], "interactiveMode": "Never",
        "env": [{"name": "PLUGIN_SETTING", "value": "from-the-kubeconfig"}]}}
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump(config))
    env = {**kube_env.env(), "KUBECONFIG": str(kubeconfig), **SECRETS}
    r = run_cli("history", "--namespace", "plugin-env", cwd=tmp_path, env=env)
    assert r.code == 2 and "no release" in r.stderr, r.output  # reached the server through the plugin
    environments = [json.loads(line) for line in seen.read_text().splitlines()]
    assert len(environments) >= 2  # the client's call and helm's
    for environment in environments:
        assert environment.get("PLUGIN_SETTING") == "from-the-kubeconfig" and environment.get("PATH")
        leaked = [name for name, value in SECRETS.items() if value in json.dumps(environment)]
        assert not leaked, f"a credential plugin saw {leaked}"
