"""The Pod Security Standard baseline profile, control by control: what passes at the edge, what does not."""

from __future__ import annotations

import copy

import pytest

from vllmctl.core.pod_security import baseline_violations

POD = {"containers": [{"name": "vllm", "image": "vllm/vllm-openai:v0.32.0",
                       "securityContext": {"runAsNonRoot": False},
                       "ports": [{"containerPort": 8000}],
                       "startupProbe": {"httpGet": {"path": "/health", "port": 8000}}}],
       "volumes": [{"name": "shm", "emptyDir": {"medium": "Memory"}}]}


def pod(**changes) -> dict:
    """POD with dotted-path changes, e.g. pod(**{"containers.0.securityContext.privileged": True})."""
    spec = copy.deepcopy(POD)
    for path, value in changes.items():
        node, *parts = [spec, *path.split(".")]
        for part in parts[:-1]:
            node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
        last = parts[-1]
        if isinstance(node, list):
            node.append(value)
        else:
            node[last] = value
    return spec


def test_the_charts_engine_pod_passes():
    assert baseline_violations(POD) == []


ALLOWED = [
    {"hostNetwork": False, "hostPID": False, "hostIPC": False},
    {"containers.0.securityContext.privileged": False},
    {"containers.0.securityContext.capabilities": {"add": ["NET_BIND_SERVICE", "SYS_CHROOT", "SETUID"],
                                                   "drop": ["ALL"]}},
    {"containers.0.ports.0.hostPort": 0},
    {"containers.0.securityContext.procMount": "Default"},
    {"securityContext": {"seccompProfile": {"type": "RuntimeDefault"}, "seLinuxOptions": {"type": "container_t"},
                         "sysctls": [{"name": "net.ipv4.tcp_keepalive_time", "value": "60"},
                                     {"name": "kernel.shm_rmid_forced", "value": "1"}]}},
    {"containers.0.securityContext.seccompProfile": {"type": "Localhost", "localhostProfile": "p.json"}},
    {"containers.0.securityContext.appArmorProfile": {"type": "RuntimeDefault"}},
    {"containers.0.securityContext.seLinuxOptions": {"type": "container_kvm_t", "level": "s0:c1"}},
    {"volumes.0": {"name": "cache", "persistentVolumeClaim": {"claimName": "c"}}},
    {"containers.0.startupProbe": {"httpGet": {"path": "/health", "port": 8000, "host": ""}}},
]


@pytest.mark.parametrize("changes", ALLOWED, ids=range(len(ALLOWED)))
def test_what_baseline_allows(changes):
    assert baseline_violations(pod(**changes)) == []


REFUSED = [
    ({"hostIPC": True}, "spec.hostIPC is true"),
    ({"hostPID": True}, "spec.hostPID is true"),
    ({"hostNetwork": True}, "spec.hostNetwork is true"),
    ({"containers.0.securityContext.privileged": True}, "spec.containers[0].securityContext.privileged is true"),
    ({"containers.0.securityContext.capabilities": {"add": ["CHOWN", "SYS_ADMIN"]}}, "capabilities.add has SYS_ADMIN"),
    ({"containers.0.securityContext.capabilities": {"add": ["NET_RAW"]}}, "has NET_RAW (beyond the baseline set)"),
    ({"volumes.0": {"name": "host", "hostPath": {"path": "/"}}}, "spec.volumes[1] (host) is a hostPath volume"),
    ({"containers.0.ports.0.hostPort": 8000}, "spec.containers[0].ports[0].hostPort is 8000"),
    ({"containers.0.securityContext.procMount": "Unmasked"}, "procMount is 'Unmasked'"),
    ({"securityContext": {"seccompProfile": {"type": "Unconfined"}}}, "spec.securityContext.seccompProfile.type"),
    ({"containers.0.securityContext.seccompProfile": {"type": "Unconfined"}}, "containers[0].securityContext.seccomp"),
    ({"containers.0.securityContext.appArmorProfile": {"type": "Unconfined"}}, "appArmorProfile.type is 'Unconfined'"),
    ({"securityContext": {"seLinuxOptions": {"type": "spc_t"}}}, "seLinuxOptions.type is 'spc_t'"),
    ({"containers.0.securityContext.seLinuxOptions": {"user": "system_u"}}, "seLinuxOptions.user is set"),
    ({"securityContext": {"seLinuxOptions": {"role": "sysadm_r"}}}, "seLinuxOptions.role is set"),
    ({"securityContext": {"sysctls": [{"name": "net.ipv4.tcp_syncookies"}, {"name": "kernel.msgmax"}]}},
     "sysctls has kernel.msgmax"),
    ({"securityContext": {"windowsOptions": {"hostProcess": True}}}, "windowsOptions.hostProcess is true"),
    ({"initContainers": [{"name": "init", "securityContext": {"privileged": True}}]},
     "spec.initContainers[0].securityContext.privileged is true"),
    ({"containers.0.livenessProbe": {"tcpSocket": {"port": 1, "host": "10.0.0.1"}}},
     "livenessProbe.tcpSocket.host is '10.0.0.1'"),
]


@pytest.mark.parametrize("changes, fragment", REFUSED, ids=[r[1][:40] for r in REFUSED])
def test_what_baseline_refuses(changes, fragment):
    violations = baseline_violations(pod(**changes))
    assert len(violations) == 1 and fragment in violations[0], violations


def test_annotations_apparmor_and_seccomp():
    ok = {"container.apparmor.security.beta.kubernetes.io/vllm": "runtime/default",
          "container.apparmor.security.beta.kubernetes.io/x": "localhost/my-profile"}
    assert baseline_violations(POD, ok) == []
    bad = {"container.apparmor.security.beta.kubernetes.io/vllm": "unconfined",
           "seccomp.security.alpha.kubernetes.io/pod": "unconfined"}
    assert len(baseline_violations(POD, bad)) == 2
