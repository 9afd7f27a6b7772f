"""Port-forwarding through the API server with the kubernetes client (no kubectl).

    with forward(cluster, "vllm", "service/vllm-router-service", 80) as url:
        ...  # url == "http://127.0.0.1:<port>"

A Service is resolved as kubectl does it: a ready pod its selector matches, and the Service port's
targetPort (a number or a container port name) on that pod. Each local connection opens its own
port-forward stream to the pod, so concurrent requests work.
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading
from collections.abc import Iterator

from vllmctl.adapters import kube
from vllmctl.adapters.kube_client import Cluster
from vllmctl.errors import InvalidInput, NotInstalled, OperationFailed


def _ready(pod: dict) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (pod.get("status") or {}).get("conditions") or [])


def _container_port(pod: dict, target) -> int:
    if isinstance(target, int) or (isinstance(target, str) and target.isdigit()):
        return int(target)
    for c in (pod.get("spec") or {}).get("containers") or []:
        for p in c.get("ports") or []:
            if p.get("name") == target:
                return int(p["containerPort"])
    raise OperationFailed(f"pod {pod['metadata']['name']} has no container port named {target!r}.")


def resolve_target(cluster: Cluster, namespace: str, service_or_pod: str, remote_port: int) -> tuple[str, int]:
    """(pod name, pod port) for "service/NAME", "svc/NAME", "pod/NAME" or a bare Service name."""
    kind, _, name = service_or_pod.rpartition("/")
    if kind in ("pod", "pods", "po"):
        return name, remote_port
    if kind not in ("", "service", "services", "svc"):
        raise InvalidInput(f"cannot port-forward to {service_or_pod!r}: give service/NAME or pod/NAME.")
    service = kube.read_service(cluster, namespace, name)
    if service is None:
        raise NotInstalled(f"no Service {name!r} in namespace {namespace!r} on {cluster.describe()}.",
                           hint="Is the stack installed? Run `vllmctl status`.")
    spec = service.get("spec") or {}
    port = next((p for p in spec.get("ports") or [] if p.get("port") == remote_port), None)
    if port is None:
        ports = ", ".join(str(p.get("port")) for p in spec.get("ports") or [])
        raise OperationFailed(f"Service {name!r} has no port {remote_port} (it has {ports or 'none'}).")
    selector = ",".join(f"{k}={v}" for k, v in (spec.get("selector") or {}).items())
    if not selector:
        raise OperationFailed(f"Service {name!r} has no selector: there is no pod to forward to.")
    pods = [p for p in kube.list_pods(cluster, namespace, selector)
            if (p.get("status") or {}).get("phase") == "Running" and _ready(p)
            and not p["metadata"].get("deletionTimestamp")]
    if not pods:
        raise OperationFailed(f"no ready pod behind Service {name!r} in namespace {namespace!r}.",
                              hint="Check `vllmctl status`; pods may still be starting.")
    pod = sorted(pods, key=lambda p: p["metadata"]["name"])[0]
    return pod["metadata"]["name"], _container_port(pod, port.get("targetPort", remote_port))


def _open_stream(cluster: Cluster, namespace: str, pod: str, port: int):
    """A port-forward stream to the pod, by path like every other call (adapters.kube_client.request),
    over the client's websocket transport."""
    from kubernetes.client.exceptions import ApiException
    from kubernetes.stream.ws_client import portforward_call

    api = cluster.api_client
    _, url, headers, _, _ = api.param_serialize(  # type: ignore[attr-defined]
        method="GET", resource_path=f"/api/v1/namespaces/{namespace}/pods/{pod}/portforward",
        query_params=[("ports", str(port))], header_params={}, auth_settings=["BearerToken"])
    try:
        return portforward_call(api.configuration, "GET", url, headers=headers)  # type: ignore[attr-defined]
    except ApiException as e:  # the client wraps every websocket failure (handshake status, socket) in it
        reason = str(e.reason or "").strip()
        raise OperationFailed(
            f"could not port-forward to pod {pod!r} port {port} through {cluster.describe()}: "
            f"{reason.splitlines()[0][:200] if reason else 'the stream did not open'}."
        ) from None


def _pump(local: socket.socket, remote: socket.socket, stop: threading.Event) -> None:
    try:
        while not stop.is_set():
            readable, _, _ = select.select([local, remote], [], [], 0.5)
            for sock in readable:
                data = sock.recv(65536)
                if not data:
                    return
                (remote if sock is local else local).sendall(data)
    except OSError:
        return
    finally:
        for sock in (local, remote):
            with contextlib.suppress(OSError):
                sock.close()


@contextlib.contextmanager
def forward(cluster: Cluster, namespace: str, service_or_pod: str, remote_port: int,
            local_port: int = 0) -> Iterator[str]:
    """A local URL that reaches `service_or_pod`:`remote_port` while the block runs."""
    pod, pod_port = resolve_target(cluster, namespace, service_or_pod, remote_port)
    # Fail here, with a clear message, when the API server or kubelet cannot stream at all.
    _open_stream(cluster, namespace, pod, pod_port).close()
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind(("127.0.0.1", local_port))
    except OSError as e:
        listener.close()
        raise OperationFailed(f"cannot listen on 127.0.0.1:{local_port}: {e.strerror}; choose another port.") from None
    listener.listen(16)
    listener.settimeout(0.5)
    stop = threading.Event()

    def serve_one(conn: socket.socket) -> None:
        try:
            stream = _open_stream(cluster, namespace, pod, pod_port)
        except OperationFailed:  # one failed connection must not end the forward
            conn.close()
            return
        _pump(conn, stream.socket(pod_port), stop)
        with contextlib.suppress(Exception):
            stream.close()

    def accept_loop() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=serve_one, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=accept_loop, name="port-forward", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        listener.close()
        thread.join(timeout=2)
