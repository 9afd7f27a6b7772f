"""A stand-in for the kubelet of the fake node `gpu-node-1`.

* An HTTPS server on 127.0.0.1 (certificate from the run's CA) answering what the API server asks
  a kubelet for logs: ``GET /containerLogs/{ns}/{pod}/{container}`` with ``tailLines``,
  ``follow=true`` (streams the lines, then a few more slowly, then closes) and ``timestamps``.
  Default lines are deterministic: ``log line N from {pod}/{container}`` (N = 1..20);
  ``set_logs()`` replaces them for one container.
* ``mark_pods_running(namespace, selector)``: patches pods bound to the node to phase Running with
  Ready/ContainersReady conditions and ready container statuses, as a kubelet would.
* Pods bound to the node that are being deleted are removed for good (grace period 0), as a
  kubelet does once their containers stopped; so a deleted namespace frees the node's GPUs.
* ``auto_ready(namespace)``: opt-in per namespace; a background loop does the above for every pod
  bound to the node there (a pod with a startup or readiness probe, as the chart's engines and
  router have, first runs unready for PROBE_PASS_S, the probes' initial delay compressed, as a
  kubelet reports it while the probes have not passed yet), and pre-binds a hostPath
  PersistentVolume to each Pending claim (the stand-in for a storage provisioner), so
  ``helm --wait`` and rollout checks can finish.
  Namespaces not opted in keep their pods Pending (bound, never started).
"""

from __future__ import annotations

import datetime as dt
import itertools
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

DEFAULT_LINES = 20


def client_delete_options(uid: str):
    from kubernetes import client

    return client.V1DeleteOptions(grace_period_seconds=0, preconditions=client.V1Preconditions(uid=uid))

FOLLOW_EXTRA_LINES = 3
PROBE_PASS_S = 1.0


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class FakeKubelet:
    def __init__(self, cert_file: str, key_file: str, node_name: str = "gpu-node-1"):
        self.node_name = node_name
        self._logs: dict[tuple[str, str, str], list[str]] = {}
        self._auto: set[str] = set()
        self._lock = threading.Lock()
        self._ip_counter = itertools.count(10)
        self._started: dict[str, float] = {}  # pod uid -> when it started running unready (probes)
        self._api_factory = None
        self._loop: threading.Thread | None = None
        self._stop = threading.Event()
        self.errors: list[str] = []
        self.requests: list[str] = []  # paths the API server asked for, for assertions

        handler = self._make_handler()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert_file, key_file)
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self._server_thread = threading.Thread(target=self.httpd.serve_forever, name="fake-kubelet",
                                               daemon=True)
        self._server_thread.start()

    # ------------------------------------------------------------------ logs
    def set_logs(self, namespace: str, pod: str, container: str, lines: list[str]) -> None:
        with self._lock:
            self._logs[(namespace, pod, container)] = list(lines)

    def lines_for(self, namespace: str, pod: str, container: str) -> list[str]:
        with self._lock:
            custom = self._logs.get((namespace, pod, container))
        if custom is not None:
            return list(custom)
        return [f"log line {n} from {pod}/{container}" for n in range(1, DEFAULT_LINES + 1)]

    def _make_handler(self):
        kubelet = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):  # noqa: N802
                url = urlsplit(self.path)
                kubelet.requests.append(self.path)
                parts = url.path.strip("/").split("/")
                if url.path == "/healthz":
                    return self._send(200, b"ok")
                if len(parts) != 4 or parts[0] != "containerLogs":
                    return self._send(404, b"not found")
                _, ns, pod, container = parts
                q = {k: v[-1] for k, v in parse_qs(url.query).items()}
                lines = kubelet.lines_for(ns, pod, container)
                follow = q.get("follow", "false").lower() == "true"
                extra = []
                if follow:
                    extra = [f"follow line {n} from {pod}/{container}"
                             for n in range(1, FOLLOW_EXTRA_LINES + 1)]
                if "tailLines" in q:
                    n = max(0, int(q["tailLines"]))
                    lines = lines[-n:] if n else []
                ts = q.get("timestamps", "false").lower() == "true"

                def fmt(i: int, line: str) -> bytes:
                    prefix = f"2024-01-01T00:00:{i % 60:02d}.000000000Z " if ts else ""
                    return (prefix + line + "\n").encode()

                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                if not follow:
                    body = b"".join(fmt(i, line) for i, line in enumerate(lines))
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                self.end_headers()  # HTTP/1.0 without length: the body ends when we close
                try:
                    for i, line in enumerate(lines):
                        self.wfile.write(fmt(i, line))
                    self.wfile.flush()
                    for j, line in enumerate(extra):
                        time.sleep(0.2)
                        self.wfile.write(fmt(len(lines) + j, line))
                        self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
                    pass

            def _send(self, code: int, body: bytes):
                self.send_response(code)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return Handler

    # ------------------------------------------------------------------ pod status
    def attach(self, api_client_factory) -> None:
        """Give the kubelet access to the API server (done by kube_env) and start the loop."""
        self._api_factory = api_client_factory
        if self._loop is None:
            self._stop.clear()
            self._loop = threading.Thread(target=self._run_loop, name="fake-kubelet-loop", daemon=True)
            self._loop.start()

    def detach(self) -> None:
        self._stop.set()
        if self._loop is not None:
            self._loop.join(timeout=5)
            self._loop = None

    def close(self) -> None:
        self.detach()
        self.httpd.shutdown()
        self.httpd.server_close()

    def auto_ready(self, namespace: str, enabled: bool = True) -> None:
        """Opt ``namespace`` in (or out) of automatic Running/Ready pods and bound claims."""
        with self._lock:
            (self._auto.add if enabled else self._auto.discard)(namespace)

    def _run_loop(self) -> None:
        from kubernetes import client

        api = self._api_factory()
        core = client.CoreV1Api(api)
        try:
            while not self._stop.wait(0.3):
                try:
                    self._finish_deletions(core)
                except Exception as exc:  # noqa: BLE001
                    self.errors.append(f"deletions: {exc}")
                with self._lock:
                    namespaces = sorted(self._auto)
                for ns in namespaces:
                    try:
                        self._provision_claims(core, ns)
                        self._mark(core, ns, None, probes=True)
                    except Exception as exc:  # noqa: BLE001 - namespace may be gone; keep going
                        if getattr(exc, "status", None) != 404:
                            self.errors.append(f"{ns}: {exc}")
        finally:
            api.close()

    def _finish_deletions(self, core) -> None:
        """What a kubelet does once a deleted pod's containers are gone: remove it for good, so
        terminating pods (e.g. of a deleted test namespace) free the node's GPUs."""
        pods = core.list_pod_for_all_namespaces(field_selector=f"spec.nodeName={self.node_name}").items
        for pod in pods:
            if pod.metadata.deletion_timestamp is None:
                continue
            try:
                core.delete_namespaced_pod(pod.metadata.name, pod.metadata.namespace, grace_period_seconds=0,
                                           body=client_delete_options(pod.metadata.uid))
            except Exception as exc:  # noqa: BLE001
                if getattr(exc, "status", None) not in (404, 409):
                    raise

    def mark_pods_running(self, namespace: str, selector: str | None = None) -> list[str]:
        """One-shot: make the pods bound to the node in ``namespace`` Running and Ready.
        Returns the names of the pods patched."""
        from kubernetes import client

        with self._api_factory() as api:
            return self._mark(client.CoreV1Api(api), namespace, selector)

    def _mark(self, core, namespace: str, selector: str | None, probes: bool = False) -> list[str]:
        pods = core.list_namespaced_pod(
            namespace, label_selector=selector or None, field_selector=f"spec.nodeName={self.node_name}"
        ).items
        done = []
        for pod in pods:
            if pod.metadata.deletion_timestamp is not None:
                continue
            if pod.status.phase == "Running" and any(
                c.type == "Ready" and c.status == "True" for c in pod.status.conditions or []
            ):
                continue
            if probes and any(c.startup_probe or c.readiness_probe for c in pod.spec.containers):
                started = self._started.setdefault(pod.metadata.uid, time.monotonic())
                if time.monotonic() - started < PROBE_PASS_S:
                    if pod.status.phase != "Running":
                        core.patch_namespaced_pod_status(pod.metadata.name, namespace,
                                                         {"status": self._status(pod, ready=False)})
                    continue
                del self._started[pod.metadata.uid]
            core.patch_namespaced_pod_status(pod.metadata.name, namespace, {"status": self._status(pod)})
            done.append(pod.metadata.name)
        return done

    def _status(self, pod, ready: bool = True) -> dict:
        """Running; Ready, or (ready=False) started but its probes not passed yet."""
        now = _now()
        ip = pod.status.pod_ip  # a pod keeps its IP from start to Ready (podIPs merge, one per family)
        if not ip:
            n = next(self._ip_counter)
            ip = f"10.88.{n // 250 % 250}.{n % 250 + 2}"

        def cstatus(c) -> dict:
            return {
                "name": c.name, "image": c.image or "", "imageID": f"fake://{c.image}",
                "containerID": f"fake://{pod.metadata.uid}/{c.name}",
                "ready": ready, "started": ready or not c.startup_probe, "restartCount": 0,
                "state": {"running": {"startedAt": now}},
            }

        init = [
            {"name": c.name, "image": c.image or "", "imageID": f"fake://{c.image}",
             "containerID": f"fake://{pod.metadata.uid}/{c.name}", "ready": True, "restartCount": 0,
             "state": {"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": now,
                                      "finishedAt": now}}}
            for c in pod.spec.init_containers or []
        ]
        return {
            "phase": "Running",
            "hostIP": "127.0.0.1",
            "podIP": ip,
            "podIPs": [{"ip": ip}],
            "startTime": now,
            "conditions": [
                {"type": t, "status": "True" if ready or t in ("Initialized", "PodScheduled") else "False",
                 "lastTransitionTime": now, "lastProbeTime": None}
                for t in ("Initialized", "Ready", "ContainersReady", "PodScheduled")
            ],
            "containerStatuses": [cstatus(c) for c in pod.spec.containers],
            "initContainerStatuses": init,
        }

    def _provision_claims(self, core, namespace: str) -> None:
        for pvc in core.list_namespaced_persistent_volume_claim(namespace).items:
            if pvc.status.phase != "Pending" or pvc.spec.volume_name:
                continue
            name = f"fake-pv-{pvc.metadata.uid}"
            size = (pvc.spec.resources.requests or {}).get("storage", "1Gi")
            body = {
                "apiVersion": "v1", "kind": "PersistentVolume",
                "metadata": {"name": name, "labels": {"vllmctl.test/fake-provisioner": "true"}},
                "spec": {
                    "capacity": {"storage": size},
                    "accessModes": pvc.spec.access_modes or ["ReadWriteOnce"],
                    "persistentVolumeReclaimPolicy": "Delete",
                    "storageClassName": pvc.spec.storage_class_name or "",
                    "hostPath": {"path": f"/tmp/vllmctl-fake-pv/{name}"},
                    "claimRef": {"namespace": namespace, "name": pvc.metadata.name,
                                 "uid": pvc.metadata.uid},
                },
            }
            try:
                core.create_persistent_volume(body)
            except Exception as exc:  # noqa: BLE001
                if getattr(exc, "status", None) != 409:
                    raise
