"""Pod Security: the namespace's labels, as the seed sets them (engines need nothing beyond baseline),
and the `baseline` profile itself, checked on a pod spec before anything is applied.

The namespace enforces baseline at `latest`, but an API server before 1.23 (such as the 1.20 test
server) has no Pod Security admission and enforces nothing: this check is where baseline holds
there. The controls follow the Pod Security Standards' baseline definition (latest version).
"""

from __future__ import annotations

from collections.abc import Iterator

ENFORCE = "pod-security.kubernetes.io/enforce"
NAMESPACE_LABELS = {
    "pod-security.kubernetes.io/enforce": "baseline",
    "pod-security.kubernetes.io/enforce-version": "latest",
    "pod-security.kubernetes.io/warn": "baseline",
    "pod-security.kubernetes.io/warn-version": "latest",
}

ALLOWED_CAPABILITIES = frozenset({
    "AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD", "NET_BIND_SERVICE",
    "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
})
SAFE_SYSCTLS = frozenset({
    "kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range", "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
})
SELINUX_TYPES = frozenset({"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"})
SECCOMP_TYPES = frozenset({"RuntimeDefault", "Localhost"})
APPARMOR_TYPES = frozenset({"RuntimeDefault", "Localhost"})
APPARMOR_ANNOTATION = "container.apparmor.security.beta.kubernetes.io/"
SECCOMP_ANNOTATIONS = ("seccomp.security.alpha.kubernetes.io/pod", "container.seccomp.security.alpha.kubernetes.io/")
CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")


def _containers(spec: dict) -> Iterator[tuple[str, dict]]:
    for group in CONTAINER_LISTS:
        for i, container in enumerate(spec.get(group) or []):
            if isinstance(container, dict):
                yield f"spec.{group}[{i}]", container


def _context(where: str, context: object) -> Iterator[str]:
    """The controls a securityContext (pod or container) can break."""
    if not isinstance(context, dict):
        return
    if (context.get("windowsOptions") or {}).get("hostProcess"):
        yield f"{where}.windowsOptions.hostProcess is true (HostProcess)"
    selinux = context.get("seLinuxOptions") or {}
    if str(selinux.get("type") or "") not in SELINUX_TYPES:
        yield f"{where}.seLinuxOptions.type is {selinux['type']!r} (allowed: {', '.join(sorted(SELINUX_TYPES - {''}))})"
    for key in ("user", "role"):
        if selinux.get(key):
            yield f"{where}.seLinuxOptions.{key} is set to {selinux[key]!r} (SELinux user and role must stay unset)"
    seccomp = (context.get("seccompProfile") or {}).get("type")
    if seccomp is not None and seccomp not in SECCOMP_TYPES:
        yield f"{where}.seccompProfile.type is {seccomp!r} (allowed: RuntimeDefault, Localhost)"
    apparmor = (context.get("appArmorProfile") or {}).get("type")
    if apparmor is not None and apparmor not in APPARMOR_TYPES:
        yield f"{where}.appArmorProfile.type is {apparmor!r} (allowed: RuntimeDefault, Localhost)"


def _container(where: str, container: dict) -> Iterator[str]:
    context = container.get("securityContext") or {}
    if not isinstance(context, dict):
        return
    if context.get("privileged"):
        yield f"{where}.securityContext.privileged is true"
    added = [c for c in ((context.get("capabilities") or {}).get("add") or []) if str(c) not in ALLOWED_CAPABILITIES]
    if added:
        yield f"{where}.securityContext.capabilities.add has {', '.join(map(str, added))} (beyond the baseline set)"
    if context.get("procMount") not in (None, "Default"):
        yield f"{where}.securityContext.procMount is {context['procMount']!r} (only Default)"
    yield from _context(f"{where}.securityContext", context)
    for j, port in enumerate(container.get("ports") or []):
        if isinstance(port, dict) and port.get("hostPort"):
            yield f"{where}.ports[{j}].hostPort is {port['hostPort']} (host ports)"
    yield from _probe_hosts(where, container)


def _probe_hosts(where: str, container: dict) -> Iterator[str]:
    """Probes and lifecycle hooks that reach another host than the pod's own."""
    handlers = [(p, container.get(p)) for p in ("livenessProbe", "readinessProbe", "startupProbe")]
    lifecycle = container.get("lifecycle") or {}
    handlers += [(f"lifecycle.{h}", lifecycle.get(h)) for h in ("postStart", "preStop")]
    for name, handler in handlers:
        for kind in ("httpGet", "tcpSocket"):
            host = ((handler or {}).get(kind) or {}).get("host") if isinstance(handler, dict) else None
            if host:
                yield f"{where}.{name}.{kind}.host is {host!r} (probes and hooks must target the pod)"


def _annotations(annotations: dict) -> Iterator[str]:
    for key, value in (annotations or {}).items():
        if key.startswith(APPARMOR_ANNOTATION) and value != "runtime/default" and not str(value).startswith(
                "localhost/"):
            yield f"annotation {key} is {value!r} (allowed: runtime/default, localhost/*)"
        if key.startswith(SECCOMP_ANNOTATIONS) and str(value) == "unconfined":
            yield f"annotation {key} is 'unconfined'"


def namespace_labels(level: str = "baseline") -> dict[str, str]:
    """The labels for a namespace that enforces `level`: `privileged` (VLLM_POD_SECURITY, for
    disaggregated prefill) relaxes enforcement only; the API server keeps warning against baseline."""
    return {**NAMESPACE_LABELS, ENFORCE: level}


def baseline_violations(pod_spec: dict, annotations: dict | None = None, *, host_ipc_pid: bool = False) -> list[str]:
    """Every way a pod (its spec and metadata annotations) breaks the baseline profile; [] when none.
    `host_ipc_pid`: hostIPC and hostPID are allowed (a privileged namespace, for exactly those pods)."""
    out: list[str] = []
    for key in ("hostNetwork", "hostPID", "hostIPC"):
        if pod_spec.get(key) and not (host_ipc_pid and key != "hostNetwork"):
            out.append(f"spec.{key} is true (host namespaces)")
    for i, volume in enumerate(pod_spec.get("volumes") or []):
        if isinstance(volume, dict) and "hostPath" in volume:
            out.append(f"spec.volumes[{i}] ({volume.get('name')}) is a hostPath volume")
    context = pod_spec.get("securityContext") or {}
    out += _context("spec.securityContext", context)
    unsafe = [s.get("name") for s in (context.get("sysctls") or []) if isinstance(s, dict)
              and s.get("name") not in SAFE_SYSCTLS] if isinstance(context, dict) else []
    if unsafe:
        out.append(f"spec.securityContext.sysctls has {', '.join(map(str, unsafe))} (not in the safe set)")
    for where, container in _containers(pod_spec):
        out += _container(where, container)
    out += _annotations(annotations or {})
    return out
