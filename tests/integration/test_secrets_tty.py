"""On a terminal: hidden prompts for the value and for the Vault token (a real pty, no echo)."""

from __future__ import annotations

import os
import pty
import select
import sys
import time

from tests.helpers import cli_env
from tests.integration.secrets_support import secret_value, secrets_env, vault_value


def _run_on_tty(args, env, cwd, answers, timeout=60.0):
    """Run `vllmctl ARGS` on a pty (its controlling terminal); answer each prompt in `answers`
    (prompt text -> reply). Returns (exit code, transcript)."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: a session leader whose controlling terminal is the pty
        os.chdir(cwd)
        os.execve(sys.executable, [sys.executable, "-m", "vllmctl.main", *args], cli_env(env))
    transcript = b""
    pending = list(answers.items())
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(fd, 4096)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not chunk:
                    break
                transcript += chunk
            if pending and pending[0][0].encode() in transcript:
                os.write(fd, pending.pop(0)[1].encode() + b"\r")
        _, status = os.waitpid(pid, 0)
    finally:
        os.close(fd)
    return os.waitstatus_to_exitcode(status), transcript.decode(errors="replace")


def test_hidden_prompts_for_token_and_vault_token(kube_env, vault_env, namespace, eso_absent, tmp_path):
    env = secrets_env(kube_env, namespace, tmp_path, VAULT_ADDR=vault_env.addr)  # no VAULT_TOKEN
    token = "hf_onTheTerminal0001"
    code, transcript = _run_on_tty(
        ["set-hf-token"], env, tmp_path,
        {"Hugging Face token (input hidden)": token, "Vault token": vault_env.token},
    )
    assert code == 0, transcript
    assert token not in transcript and vault_env.token not in transcript  # nothing echoed
    with kube_env.api_client() as api:
        assert secret_value(api, namespace, "hf-token", "token") == token
    assert vault_value(vault_env, "vllm/huggingface", "token") == token


def test_api_key_prompt_left_empty_generates(kube_env, namespace, eso_absent, tmp_path):
    env = secrets_env(kube_env, namespace, tmp_path)
    code, transcript = _run_on_tty(["set-api-key"], env, tmp_path, {"empty to generate one": ""})
    assert code == 0, transcript
    with kube_env.api_client() as api:
        key = secret_value(api, namespace, "vllm-api-key", "api-key")
    assert key and len(key) == 48 and key not in transcript
    assert "get-api-key" in transcript
