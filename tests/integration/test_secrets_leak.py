"""No secret in a child's argv or environment, a file, or any output except `get-*` stdout (and `--show`).

Every secret command runs as a child process with distinctive values while a thread samples
/proc/*/cmdline and /proc/*/environ of every process on the machine (the CLI's own process
holds the values in its environment by design; its children - helm and the post-renderer - must
not); afterwards every file under the working directory
and HOME is searched, and so is every stdout and stderr.
"""

from __future__ import annotations

import os
import secrets
import threading
from pathlib import Path

import pytest

from tests.fakes.hub import FakeHub
from tests.helpers import run_cli
from tests.integration.secrets_support import secrets_env, vault_delete, vault_value


class CmdlineSampler:
    """Reads /proc/*/cmdline and environ in a loop; keeps any argv containing one of `needles`,
    and any environment holding one, except the CLI's own."""

    def __init__(self, needles: list[str]):
        self.needles = [n.encode() for n in needles]
        self.hits: list[tuple[int, bytes]] = []
        self.env_hits: list[tuple[bytes, bytes]] = []  # (argv, the secret found in its environment)
        self.cli_seen = 0  # how many samples caught a vllmctl child: proof the sampler was fast enough
        self.children_seen: dict[bytes, int] = {}  # helm / post-renderer: environments read
        self._env_read: set[tuple[str, bytes]] = set()
        self.rounds = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(10)

    def _run(self):
        me = os.getpid()
        while not self._stop.is_set():
            self.rounds += 1
            for entry in os.scandir("/proc"):
                if not entry.name.isdigit() or int(entry.name) == me:
                    continue
                try:
                    with open(f"/proc/{entry.name}/cmdline", "rb") as f:
                        argv = f.read()
                except OSError:
                    continue
                if b"vllmctl.main" in argv:
                    self.cli_seen += 1
                if any(n in argv for n in self.needles):
                    self.hits.append((int(entry.name), argv))
                # An empty argv is a process in the middle of exec (the CLI starting with its own
                # environment, which holds the values by design): its next read names it, and a
                # (pid, argv) pair is read again whenever the argv changes.
                if argv and b"vllmctl.main" not in argv:
                    self._check_environ(entry.name, argv)
            self._stop.wait(0.003)  # leave the CPU to the commands under test (2-core machines)


    def _check_environ(self, pid: str, argv: bytes) -> None:
        # the environment a process shows is the one it was exec'd with: read it once per program
        if (pid, argv) in self._env_read:
            return
        self._env_read.add((pid, argv))
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                environ = f.read()
        except OSError:
            return
        kind = self._child_kind(argv)
        if kind and environ:
            self.children_seen[kind] = self.children_seen.get(kind, 0) + 1
        self.env_hits += [(argv[:200], n[:8]) for n in self.needles if n in environ]

    @staticmethod
    def _child_kind(argv: bytes) -> bytes | None:
        if b"keep_claims" in argv:
            return b"post-renderer"
        first = argv.split(b"\0", 1)[0]
        return b"helm" if first.endswith(b"/helm") or first == b"helm" else None


def _files_containing(roots: list[Path], needles: list[str]) -> list[str]:
    found = []
    for root in roots:
        for path in root.rglob("*"):
            if path.is_file() and not path.is_symlink():
                data = path.read_bytes()
                found += [f"{path}: {n[:6]}..." for n in needles if n.encode() in data]
    return found


@pytest.fixture
def leak_env(kube_env, vault_env, namespace, tmp_path):
    """CLI environment with a child Vault token of its own (the root token is in the dev server's argv)."""
    token = vault_env.client().auth.token.create(policies=["root"], ttl="10m")["auth"]["client_token"]
    work, home = tmp_path / "work", tmp_path / "home"
    work.mkdir()
    home.mkdir()
    env = secrets_env(kube_env, namespace, home, vault_env, VAULT_TOKEN=token)
    return env, work, home, token


@pytest.mark.parametrize("with_eso", [True, False], ids=["eso", "plain"])
def test_no_secret_leaks(request, with_eso, leak_env, vault_env):
    request.getfixturevalue("eso" if with_eso else "eso_absent")
    env, work, home, vault_token = leak_env
    tag = secrets.token_hex(8)
    hf = [f"hf_LEAKa{tag}", f"hf_LEAKb{tag}", f"hf_LEAKc{tag}"]
    keys = [f"LEAKKEYa{tag}", f"LEAKKEYb{tag}", f"LEAKKEYc{tag}"]
    needles = hf + keys + [vault_token]
    results = []  # (args, result, allowed on stdout)

    def cli(*args, input=None, extra=None, allowed=None):
        r = run_cli(*args, input=input, env={**env, **(extra or {})}, cwd=work)
        results.append((args, r, allowed))
        return r

    hub = FakeHub(tokens={hf[0]: "leaky", hf[1]: "leaky", hf[2]: "leaky"}).start()
    env["HF_ENDPOINT"] = hub.url
    try:
        with CmdlineSampler(needles) as sampler:
            for kind, values, get_cmd in (("hf-token", hf, "get-hf-token"), ("api-key", keys, "get-api-key")):
                var = "VLLM_HF_TOKEN" if kind == "hf-token" else "VLLM_API_KEY"
                assert cli(f"set-{kind}", "--stdin", input=values[0] + "\n").code == 0
                assert cli(f"set-{kind}", extra={var: values[1]}).code == 0
                r = cli(get_cmd, allowed=values[1])
                assert r.stdout == values[1] + "\n"
                assert cli(f"create-{kind}-secret", extra={var: values[1]}).code == 0
                assert cli(f"delete-{kind}-secret", "--yes").code == 0
                assert cli(f"create-{kind}-secret", "--stdin", input=values[2]).code == 0
                assert cli(f"create-{kind}-secret", "-o", "json").code == 0
                assert cli(f"set-{kind}", "-o", "json", extra={var: values[0]}).code == 0
                assert cli(f"delete-{kind}", "--yes").code == 0
                # failures while holding a value: an unknown mount, a bad timeout, an invalid token
                assert cli(f"set-{kind}", "--stdin", input=values[2],
                           extra={"VLLM_VAULT_MOUNT": "nomount"}).code != 0
                assert cli(f"set-{kind}", "--secret-timeout", "x", extra={var: values[2]}).code == 2
            assert cli("set-hf-token", "--stdin", input=f"hf_LEAKbogus{tag}").code == 2  # the Hub says invalid
            assert cli("set-api-key").code == 0  # generated: never shown without --show
            generated = vault_value(vault_env, "vllm/api-key", "api-key")
    finally:
        hub.stop()
        vault_delete(vault_env, "vllm/api-key")

    assert sampler.rounds > 20 and sampler.cli_seen > 0, "the sampler never caught a CLI process"
    assert sampler.hits == [], f"a secret appeared in a process's argv: {sampler.hits[:1]}"
    assert sampler.env_hits == [], f"a secret in a child's environment: {sampler.env_hits[:1]}"
    everything = needles + [f"hf_LEAKbogus{tag}", generated]
    assert _files_containing([work, home], everything) == []
    for args, r, allowed in results:
        for needle in everything:
            assert needle not in r.stderr, f"{args}: a secret on stderr"
            if needle != allowed:
                assert needle not in r.stdout, f"{args}: a secret on stdout"


def test_install_and_upgrade_leak_nothing(request, leak_env, kube_env, test_server_chart):
    """install/upgrade/diff with a gated model and an API key: helm's argv, the release record (its
    values and manifest), every file and all output stay free of both values."""
    import base64
    import gzip

    import yaml
    from kubernetes import client

    from tests.integration.deploy_helpers import NEWEST_CHART, model

    request.getfixturevalue("eso_absent")
    env, work, home, vault_token = leak_env
    namespace = env["VLLM_NAMESPACE"]
    tag = secrets.token_hex(8)
    hf, key = f"hf_LEAKinstall{tag}", f"LEAKKEYinstall{tag}"
    other, dotenv = f"LEAKgh{tag}", f"LEAKdotenv{tag}"  # secret-looking names vllmctl does not know
    needles = [hf, key, vault_token, other, dotenv]
    (work / ".env.local").write_text(f"DEPLOY_PASSWORD={dotenv}\n")
    (work / "models.yaml").write_text(yaml.safe_dump([model("gated", hfTokenRequired=True)], sort_keys=False))
    env.update({"VLLM_CHART": str(test_server_chart(NEWEST_CHART)), "VLLM_RUNTIME_CLASS": "",
                "VLLM_API_KEY_ENABLED": "true", "VLLM_HF_TOKEN": hf, "VLLM_API_KEY": key, "GITHUB_TOKEN": other})
    outputs = []
    with CmdlineSampler(needles) as sampler:
        for args in (["install", "--no-wait", "--yes"], ["diff"], ["upgrade", "--no-wait", "--yes"],
                     ["render", "-d", "rendered"]):
            r = run_cli(*args, env=env, cwd=work)
            assert r.code == 0, (args, r.output)
            outputs.append(r.output)
    assert sampler.cli_seen > 0 and sampler.hits == [], sampler.hits[:1]
    assert sampler.env_hits == [], f"a secret in a child's environment: {sampler.env_hits[:1]}"
    assert sampler.children_seen.get(b"helm", 0) > 0, f"no helm child sampled: {sampler.children_seen}"
    assert _files_containing([work, home], [hf, key, vault_token, other]) == []  # .env.local holds `dotenv`
    assert not any(n in out for n in needles for out in outputs)
    with kube_env.api_client() as api:
        core = client.CoreV1Api(api)
        assert base64.b64decode(core.read_namespaced_secret("hf-token", namespace).data["token"]).decode() == hf
        records = core.list_namespaced_secret(namespace, label_selector="owner=helm").items
    assert records
    for record in records:
        release = gzip.decompress(base64.b64decode(base64.b64decode(record.data["release"]))).decode()
        assert hf not in release and key not in release
        assert '"secretName":"hf-token"' in release.replace(" ", "")
