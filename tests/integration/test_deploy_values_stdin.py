"""The Helm values reach helm on its stdin, never through a file or an argument.

While `install` runs, a thread watches every helm child on the machine through /proc: its argv
and what each of its file descriptors points to. The values carry a marker (a modelURL) that
appears nowhere else, so any file helm holds that contains it, or any argument, is a leak.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading

from tests.integration.deploy_helpers import model, write_models

MARKER = "example-org/stdin-marker-5e1f"


class HelmWatcher:
    """Samples /proc for `helm upgrade` children: argv and the targets of their file descriptors."""

    def __init__(self) -> None:
        self.seen: dict[int, dict] = {}  # pid -> {"argv": [...], "fds": {fd: target}}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> HelmWatcher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        while not self._stop.is_set():
            for entry in os.scandir("/proc"):
                if entry.name.isdigit():
                    self._sample(int(entry.name))
            self._stop.wait(0.003)

    def _sample(self, pid: int) -> None:
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
            if not argv or os.path.basename(argv[0]) != "helm" or "upgrade" not in argv:
                return
            fds = {int(fd): os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")}
        except OSError:  # gone meanwhile
            return
        record = self.seen.setdefault(pid, {"argv": argv, "fds": {}})
        record["fds"].update(fds)


def _holds_marker(target: str) -> bool:
    if not target.startswith("/"):
        return False  # pipe:[...], socket:[...], anon_inode:...
    if target.endswith(" (deleted)"):
        return True  # a file unlinked while open: the classic temporary values file
    try:
        with open(target, "rb") as f:
            return MARKER.encode() in f.read(50_000_000)
    except OSError:
        return False


def test_values_reach_helm_on_stdin_and_never_a_file(tmp_path, kube_env, helm_bin, namespace, cli):
    write_models(tmp_path, model("probe", modelURL=MARKER, pvcStorage=""))
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    with HelmWatcher() as watcher:
        r = cli("install", "--no-wait", env={"TMPDIR": str(scratch)})
    assert r.code == 0, r.output
    assert watcher.seen, "no helm upgrade child was seen: the sampler is too slow to prove anything"
    for pid, record in watcher.seen.items():
        argv = record["argv"]
        assert not any(MARKER in a for a in argv), argv
        values_args = [argv[i + 1] for i, a in enumerate(argv[:-1]) if a in ("--values", "-f")]
        values_args += [a.split("=", 1)[1] for a in argv if a.startswith(("--values=", "-f="))]
        assert values_args == ["-"], argv  # values only from stdin
        assert not any(a.startswith(("--set", "--set-file", "--set-json")) for a in argv), argv
        assert record["fds"].get(0, "").startswith("pipe:"), (pid, record["fds"])
        assert not [t for t in record["fds"].values() if _holds_marker(t)], record["fds"]
    assert list(scratch.iterdir()) == []  # nothing written to the CLI's temporary directory
    # and the values did arrive: the release holds them
    out = subprocess.run([helm_bin, "get", "values", "vllm", "-n", namespace, "-o", "json"],
                         env={**os.environ, **kube_env.env()}, capture_output=True, text=True, check=True)
    specs = json.loads(out.stdout)["servingEngineSpec"]["modelSpec"]
    assert [s["modelURL"] for s in specs] == [MARKER]
