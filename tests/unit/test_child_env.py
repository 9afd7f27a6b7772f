"""The environment of the children vllmctl starts: the allow-list, and real children reading it."""

from __future__ import annotations

import asyncio
import os
import stat

from vllmctl.adapters.child_process import run_async
from vllmctl.core.child_env import NEVER, PASS_ENV, child_environment
from vllmctl.workflows.deep_check import run_probe

SECRETS = {
    "VLLM_HF_TOKEN": "hf_LEAK1", "VLLM_API_KEY": "LEAK2", "VAULT_TOKEN": "LEAK3", "HF_TOKEN": "hf_LEAK4",
    "HUGGING_FACE_HUB_TOKEN": "hf_LEAK5", "GITHUB_TOKEN": "LEAK6", "AWS_SECRET_ACCESS_KEY": "LEAK7",
    "DB_PASSWORD": "LEAK8", "OPENAI_API_KEY": "LEAK9", "HELM_REGISTRY_PASSWORD": "LEAK10",
    "VLLM_SOMETHING_SECRET": "LEAK11", "MY_APP_CONFIG": "LEAK12",
}
NEEDED = {"PATH": "/usr/bin", "HOME": "/home/u", "KUBECONFIG": "/k", "HTTPS_PROXY": "http://p:3128",
          "HELM_CACHE_HOME": "/c", "LC_ALL": "C.UTF-8", "XDG_CONFIG_HOME": "/x", "AWS_PROFILE": "prod",
          "KUBERNETES_SERVICE_HOST": "10.0.0.1", "VLLM_NAMESPACE": "vllm", "HF_ENDPOINT": "https://hub"}


def test_allow_list_passes_what_children_need_and_no_secret():
    env = child_environment({**SECRETS, **NEEDED})
    assert env == NEEDED
    assert not set(env) & NEVER


def test_named_pass_through_but_never_vllmctl_secrets():
    environ = {**SECRETS, **NEEDED, PASS_ENV: "AWS_SECRET_ACCESS_KEY, VLLM_API_KEY,VAULT_TOKEN"}
    env = child_environment(environ)
    assert env["AWS_SECRET_ACCESS_KEY"] == "LEAK7"
    assert "VLLM_API_KEY" not in env and "VAULT_TOKEN" not in env


def _environ_of_child(tmp_path, start) -> dict[str, str]:
    out = tmp_path / "environ"
    start(f"cat /proc/$$/environ > {out}")
    pairs = [p.split("=", 1) for p in out.read_bytes().decode().split("\0") if "=" in p]
    return dict(pairs)


def test_children_on_the_helm_loop_get_the_child_environment(tmp_path, monkeypatch):
    """helm starts without an env of its own (adapters.helm): what a child on the loop sees."""
    for k, v in SECRETS.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("KUBECONFIG", "/some/kubeconfig")

    async def exec_(cmd):
        proc = await asyncio.create_subprocess_exec("/bin/sh", "-c", cmd)
        await proc.wait()

    env = _environ_of_child(tmp_path, lambda cmd: run_async(exec_(cmd)))
    assert env["KUBECONFIG"] == "/some/kubeconfig"
    assert [k for k in SECRETS if k in env] == []


def test_engine_probe_child_environment(tmp_path, monkeypatch):
    """validate --deep's probe Python: a stand-in that records its environment and answers {}."""
    for k, v in SECRETS.items():
        monkeypatch.setenv(k, v)
    out = tmp_path / "environ"
    python = tmp_path / "python"
    python.write_text(f"#!/bin/sh\ncat /proc/$$/environ > {out}\necho '{{}}'\n")
    python.chmod(python.stat().st_mode | stat.S_IXUSR)
    assert run_probe([], python=str(python)) == {}
    env = dict(p.split("=", 1) for p in out.read_bytes().decode().split("\0") if "=" in p)
    assert env["HF_HUB_OFFLINE"] == "1" and env["PATH"] == os.environ["PATH"]
    assert [k for k in SECRETS if k in env] == []
