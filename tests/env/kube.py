"""etcd + kube-apiserver + kube-controller-manager + kube-scheduler on 127.0.0.1, from the cached
Debian-built binaries (tests/env/provision.sh). One instance per test session."""

from __future__ import annotations

import secrets
import ssl
import tempfile
import time
import urllib.request
from pathlib import Path

import yaml

from .pki import PKI
from .ports import free_port
from .procs import Proc, kube_bin_dir, wait_until

CONTEXT = "vllmctl-test"
NODE_NAME = "gpu-node-1"
SERVICE_CIDR = "10.96.0.0/24"


class KubeEnv:
    """A running control plane. Attributes: kubeconfig, context, server, token, ca_file,
    node_name, log_dir, bin_dir, kubelet (the FakeKubelet, once attached)."""

    def __init__(self, workdir: str | Path | None = None, pki: PKI | None = None, kubelet=None):
        self.bin_dir = kube_bin_dir()
        self.dir = Path(workdir or tempfile.mkdtemp(prefix="vllmctl-kube-"))
        self.log_dir = str(self.dir / "logs")
        Path(self.log_dir).mkdir(parents=True, exist_ok=True)
        self.pki = pki or PKI(self.dir / "pki")
        self.ca_file = self.pki.ca_file
        self.context = CONTEXT
        self.node_name = NODE_NAME
        self.token = secrets.token_hex(24)
        self.kubelet = kubelet  # FakeKubelet: its port goes into the Node; attached after start
        self.kubelet_port = kubelet.port if kubelet is not None else None
        self.procs: list[Proc] = []
        self.server = ""
        self.kubeconfig = str(self.dir / "kubeconfig")
        self.helm_home = self.dir / "helm"
        self.startup_seconds: float | None = None

    # ------------------------------------------------------------------ start / stop
    def start(self) -> KubeEnv:
        t0 = time.monotonic()
        try:
            self._start_etcd()
            self._start_apiserver()
            self._write_kubeconfig()
            # controller-manager and scheduler wait (up to 10 s) for a healthy API server on their
            # own: start them as soon as it listens, and overlap their start-up with its own.
            self._wait_listening()
            self._start_controller_manager()
            self._start_scheduler()
            self._wait_ready()
            self._create_node()
            self._wait_default_service_account()
            if self.kubelet is not None:
                self.kubelet.attach(self.api_client)
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - t0
        return self

    def stop(self) -> None:
        if self.kubelet is not None:
            self.kubelet.detach()
        for p in reversed(self.procs):
            p.stop()
        self.procs.clear()

    def _proc(self, name: str, argv: list[str]) -> Proc:
        p = Proc(name, argv, Path(self.log_dir) / f"{name}.log")
        self.procs.append(p)
        return p

    def _start_etcd(self) -> None:
        client, peer = free_port(), free_port()
        self.etcd_url = f"http://127.0.0.1:{client}"
        self.etcd = self._proc(
            "etcd",
            [
                str(self.bin_dir / "etcd"),
                "--name=default",
                f"--data-dir={self.dir / 'etcd'}",
                f"--listen-client-urls={self.etcd_url}",
                f"--advertise-client-urls={self.etcd_url}",
                f"--listen-peer-urls=http://127.0.0.1:{peer}",
                f"--initial-advertise-peer-urls=http://127.0.0.1:{peer}",
                f"--initial-cluster=default=http://127.0.0.1:{peer}",
                "--unsafe-no-fsync",
                "--log-level=warn",
            ],
        )

        def healthy():
            with urllib.request.urlopen(f"{self.etcd_url}/health", timeout=1) as r:
                return b'"true"' in r.read()

        wait_until(healthy, 20, 0.05, "etcd /health", procs=[self.etcd])

    def _start_apiserver(self) -> None:
        port = free_port()
        self.server = f"https://127.0.0.1:{port}"
        serving = self.pki.serving_cert("apiserver", dns=("localhost", "kubernetes", "kubernetes.default"))
        sa = self.pki.service_account_keys()
        tokens = self.dir / "tokens.csv"
        tokens.write_text(f'{self.token},vllmctl-admin,vllmctl-admin,"system:masters"\n')
        tokens.chmod(0o600)
        self.apiserver = self._proc(
            "kube-apiserver",
            [
                str(self.bin_dir / "kube-apiserver"),
                f"--etcd-servers={self.etcd_url}",
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                f"--secure-port={port}",
                "--insecure-port=0",
                f"--cert-dir={self.dir / 'apiserver-certs'}",
                f"--tls-cert-file={serving.cert_file}",
                f"--tls-private-key-file={serving.key_file}",
                f"--client-ca-file={self.ca_file}",
                f"--token-auth-file={tokens}",
                "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                f"--service-account-key-file={sa.cert_file}",
                f"--service-account-signing-key-file={sa.key_file}",
                "--authorization-mode=Node,RBAC",
                "--allow-privileged=true",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                f"--kubelet-certificate-authority={self.ca_file}",
                "--kubelet-preferred-address-types=InternalIP",
                "--v=1",
            ],
        )

    def _ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.ca_file)

    def _get(self, path: str) -> tuple[int, bytes]:
        req = urllib.request.Request(self.server + path, headers={"Authorization": f"Bearer {self.token}"})
        try:
            with urllib.request.urlopen(req, timeout=2, context=self._ssl_context()) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def _wait_listening(self) -> None:
        def listening():
            try:
                self._get("/healthz")
                return True
            except OSError:
                return False

        wait_until(listening, 60, 0.05, "kube-apiserver to listen", procs=[self.etcd, self.apiserver])

    def _wait_ready(self) -> None:
        wait_until(lambda: self._get("/readyz")[0] == 200, 60, 0.1, "kube-apiserver /readyz",
                   procs=[self.etcd, self.apiserver])

    def _write_kubeconfig(self) -> None:
        cfg = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": CONTEXT,
                          "cluster": {"server": self.server, "certificate-authority": self.ca_file}}],
            "users": [{"name": f"{CONTEXT}-admin", "user": {"token": self.token}}],
            "contexts": [{"name": CONTEXT, "context": {"cluster": CONTEXT, "user": f"{CONTEXT}-admin",
                                                        "namespace": "default"}}],
            "current-context": CONTEXT,
        }
        path = Path(self.kubeconfig)
        path.write_text(yaml.safe_dump(cfg, sort_keys=False))
        path.chmod(0o600)

    def _start_controller_manager(self) -> None:
        sa = self.pki.service_account_keys()
        self.controller_manager = self._proc(
            "kube-controller-manager",
            [
                str(self.bin_dir / "kube-controller-manager"),
                f"--kubeconfig={self.kubeconfig}",
                f"--authentication-kubeconfig={self.kubeconfig}",
                f"--authorization-kubeconfig={self.kubeconfig}",
                "--leader-elect=false",
                "--controllers=*,-nodelifecycle",
                f"--service-account-private-key-file={sa.key_file}",
                f"--root-ca-file={self.ca_file}",
                "--use-service-account-credentials=false",
                "--bind-address=127.0.0.1",
                f"--secure-port={free_port()}",
                "--port=0",
                f"--cert-dir={self.dir / 'cm-certs'}",
                "--v=1",
            ],
        )

    def _start_scheduler(self) -> None:
        self.scheduler = self._proc(
            "kube-scheduler",
            [
                str(self.bin_dir / "kube-scheduler"),
                f"--kubeconfig={self.kubeconfig}",
                f"--authentication-kubeconfig={self.kubeconfig}",
                f"--authorization-kubeconfig={self.kubeconfig}",
                "--leader-elect=false",
                "--bind-address=127.0.0.1",
                f"--secure-port={free_port()}",
                "--port=0",
                f"--cert-dir={self.dir / 'scheduler-certs'}",
                "--v=1",
            ],
        )

    def _wait_default_service_account(self) -> None:
        def ready():
            code, _ = self._get("/api/v1/namespaces/default/serviceaccounts/default")
            return code == 200

        wait_until(ready, 60, 0.1, "default ServiceAccount (controller-manager)", procs=self.procs)

    # ------------------------------------------------------------------ clients and helpers
    def api_client(self):
        """A fresh kubernetes.client.ApiClient for this cluster."""
        from kubernetes import client

        cfg = client.Configuration()
        cfg.host = self.server
        cfg.ssl_ca_cert = self.ca_file
        cfg.verify_ssl = True
        cfg.api_key = {"authorization": self.token}
        cfg.api_key_prefix = {"authorization": "Bearer"}
        return client.ApiClient(cfg)

    def env(self) -> dict[str, str]:
        """Environment for running the CLI / helm / kubectl against this cluster."""
        for sub in ("cache", "config", "data"):
            (self.helm_home / sub).mkdir(parents=True, exist_ok=True)
        return {
            "KUBECONFIG": self.kubeconfig,
            "HELM_KUBECONTEXT": self.context,
            "HELM_CACHE_HOME": str(self.helm_home / "cache"),
            "HELM_CONFIG_HOME": str(self.helm_home / "config"),
            "HELM_DATA_HOME": str(self.helm_home / "data"),
        }

    def _create_node(self) -> None:
        from kubernetes import client

        with self.api_client() as api:
            core = client.CoreV1Api(api)
            labels = {
                "kubernetes.io/hostname": NODE_NAME,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "nvidia.com/gpu.present": "true",
            }
            core.create_node({"apiVersion": "v1", "kind": "Node",
                              "metadata": {"name": NODE_NAME, "labels": labels}, "spec": {}})
            resources = {"cpu": "16", "memory": "64Gi", "pods": "110", "nvidia.com/gpu": "2",
                         "ephemeral-storage": "100Gi"}
            now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            status = {
                "capacity": resources,
                "allocatable": resources,
                "conditions": [
                    {"type": "Ready", "status": "True", "reason": "KubeletReady",
                     "message": "fake kubelet is posting ready status",
                     "lastHeartbeatTime": now, "lastTransitionTime": now},
                    {"type": "MemoryPressure", "status": "False", "reason": "KubeletHasSufficientMemory",
                     "lastHeartbeatTime": now, "lastTransitionTime": now},
                    {"type": "DiskPressure", "status": "False", "reason": "KubeletHasNoDiskPressure",
                     "lastHeartbeatTime": now, "lastTransitionTime": now},
                    {"type": "PIDPressure", "status": "False", "reason": "KubeletHasSufficientPID",
                     "lastHeartbeatTime": now, "lastTransitionTime": now},
                ],
                "addresses": [{"type": "InternalIP", "address": "127.0.0.1"},
                              {"type": "Hostname", "address": NODE_NAME}],
                "daemonEndpoints": {"kubeletEndpoint": {"Port": int(self.kubelet_port or 10250)}},
                "nodeInfo": {
                    "architecture": "amd64", "operatingSystem": "linux", "kubeletVersion": "v1.20.2",
                    "kubeProxyVersion": "v1.20.2", "containerRuntimeVersion": "fake://0.0.0",
                    "osImage": "vllmctl fake node", "kernelVersion": "0.0.0", "machineID": "fake",
                    "systemUUID": "fake", "bootID": "fake",
                },
            }
            core.patch_node_status(NODE_NAME, {"status": status})
            # The TaintNodesByCondition admission plugin taints every new Node not-ready; a kubelet
            # reporting Ready (and the node-lifecycle controller, disabled here) would lift it.
            core.patch_node(NODE_NAME, {"spec": {"taints": None}})

    def create_runtime_class(self, name: str = "nvidia", handler: str = "nvidia") -> None:
        """Create RuntimeClass `name` (node.k8s.io/v1) if absent."""
        from kubernetes import client
        from kubernetes.client.rest import ApiException

        with self.api_client() as api:
            try:
                client.NodeV1Api(api).create_runtime_class(
                    {"apiVersion": "node.k8s.io/v1", "kind": "RuntimeClass",
                     "metadata": {"name": name}, "handler": handler}
                )
            except ApiException as e:
                if e.status != 409:
                    raise

    def delete_runtime_class(self, name: str = "nvidia") -> None:
        from kubernetes import client
        from kubernetes.client.rest import ApiException

        with self.api_client() as api:
            try:
                client.NodeV1Api(api).delete_runtime_class(name)
            except ApiException as e:
                if e.status != 404:
                    raise
