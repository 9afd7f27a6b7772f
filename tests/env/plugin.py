"""pytest plugin: the real local test environment of vllmctl (loaded with ``-p tests.env.plugin``).

Fixtures (an interface other tests code against):

session  kube_env      etcd + kube-apiserver + controller-manager + scheduler on 127.0.0.1, a Node
                       `gpu-node-1` (cpu 16, memory 64Gi, nvidia.com/gpu 2) whose kubelet is
                       `fake_kubelet`. Attributes: kubeconfig, context, server, token, ca_file,
                       node_name, log_dir, kubelet; methods api_client(), env(),
                       create_runtime_class(), delete_runtime_class().
session  vault_env     OpenBao dev server: addr, token, client() (hvac), env(), stop(), start().
function fresh_vault   a throw-away OpenBao server for tests that seal, stop or break it.
function vault_server_factory  ``factory()`` -> a new started VaultServer; all stopped afterwards.
session  helm_bin      path of the real helm binary (helm-binary).
function namespace     a fresh namespace named after the test; deleted afterwards (no wait).
session  fake_kubelet  the stand-in kubelet (logs; ``auto_ready(ns)``, ``mark_pods_running(ns)``).
function eso           ESO stand-in present for this test: CRDs + ClusterSecretStore
                       `vault-secret-store` + reconciler (started once, kept for the session); the
                       store is deleted afterwards. ``eso.resync()``.
function eso_absent    ESO looks absent for this test: no ClusterSecretStore (vllmctl detects ESO
                       by "CRD served AND ClusterSecretStore exists"; CRDs are cluster-wide and
                       stay). Every test that asks for neither sees ESO absent too, whatever ran
                       before it.
function runtime_class RuntimeClass `nvidia` exists during the test (removed afterwards if the
                       fixture created it).
session  real_chart    ``real_chart(version)`` -> the real vllm-stack package (.tgz) of that version
                       (tests/env/charts.py says where packages come from).
session  test_server_chart  ``test_server_chart(version)`` -> what an install on the 1.20 test API
                       server may use: the package, or for 0.1.8 a copy without its policy/v1 PDB.
session  chart_schema  ``chart_schema(version)`` -> the parsed values.schema.json of that version.

Missing binaries (tests/env/provision.sh not run): the fixtures skip, unless
VLLMCTL_REQUIRE_REAL_SERVERS=1, where they fail; then any skipped test marked `real` also turns
the session into a failure. Tests using these fixtures get the `real` marker automatically.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import tempfile
from pathlib import Path

import pytest

from .procs import MissingServers

REAL_FIXTURES = frozenset({
    "kube_env", "vault_env", "fresh_vault", "vault_server_factory", "helm_bin", "namespace",
    "eso", "eso_absent", "fake_kubelet", "runtime_class", "real_chart", "test_server_chart", "chart_schema",
})
_kept_dirs = pytest.StashKey[list]()
_real_skips = pytest.StashKey[list]()
_eso_key = pytest.StashKey[object]()


def _require_real() -> bool:
    return os.environ.get("VLLMCTL_REQUIRE_REAL_SERVERS", "") == "1"


def _missing(what: str, exc: BaseException):
    msg = f"real test servers unavailable ({what}): {exc}"
    if _require_real():
        pytest.fail(msg + " [VLLMCTL_REQUIRE_REAL_SERVERS=1]", pytrace=False)
    pytest.skip(msg)


# ---------------------------------------------------------------------- hooks
def pytest_configure(config):
    config.stash[_kept_dirs] = []
    config.stash[_real_skips] = []
    config.addinivalue_line(
        "markers", "real: needs the real test servers (kube-apiserver, etcd, OpenBao, helm)")


def pytest_collection_modifyitems(config, items):
    for item in items:
        if REAL_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.real)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.skipped and item.get_closest_marker("real") is not None:
        reason = rep.longrepr[2] if isinstance(rep.longrepr, tuple) else str(rep.longrepr)
        item.config.stash[_real_skips].append(f"{item.nodeid}: {reason}")


def pytest_sessionfinish(session, exitstatus):
    if _require_real() and session.config.stash.get(_real_skips, []) and exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    for d in config.stash.get(_kept_dirs, []):
        terminalreporter.write_line(f"vllmctl test environment kept (tests failed): logs in {d}")
    skips = config.stash.get(_real_skips, [])
    if skips and _require_real():
        terminalreporter.write_sep(
            "=", "real-server tests skipped with VLLMCTL_REQUIRE_REAL_SERVERS=1", red=True)
        for s in skips:
            terminalreporter.write_line(s)


# ---------------------------------------------------------------------- session fixtures
@pytest.fixture(scope="session")
def _testenv_dir(request):
    d = Path(tempfile.mkdtemp(prefix="vllmctl-testenv-"))
    yield d
    if request.session.testsfailed:
        request.config.stash[_kept_dirs].append(str(d))
    else:
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="session")
def _testenv_pki(_testenv_dir):
    from .pki import PKI

    return PKI(_testenv_dir / "pki")


@pytest.fixture(scope="session")
def fake_kubelet(_testenv_pki):
    from .kubelet import FakeKubelet

    pair = _testenv_pki.serving_cert("kubelet", dns=("localhost", "gpu-node-1"))
    kubelet = FakeKubelet(pair.cert_file, pair.key_file)
    yield kubelet
    kubelet.close()


@pytest.fixture(scope="session")
def kube_env(_testenv_dir, _testenv_pki, fake_kubelet):
    from .kube import KubeEnv

    try:
        env = KubeEnv(_testenv_dir / "kube", pki=_testenv_pki, kubelet=fake_kubelet)
    except MissingServers as exc:
        _missing("kube", exc)
    env.start()
    yield env
    env.stop()


@pytest.fixture(scope="session")
def vault_env(_testenv_dir):
    from .openbao import VaultServer

    try:
        server = VaultServer(_testenv_dir / "openbao")
    except MissingServers as exc:
        _missing("openbao", exc)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def helm_bin() -> str:
    from .procs import helm_binary

    try:
        return helm_binary()
    except MissingServers as exc:
        _missing("helm", exc)


# ---------------------------------------------------------------------- function fixtures
@pytest.fixture
def vault_server_factory(_testenv_dir):
    """``factory()`` starts a new OpenBao dev server of the test's own; all are stopped afterwards."""
    from .openbao import VaultServer

    servers = []

    def factory():
        try:
            server = VaultServer(_testenv_dir / f"openbao-{secrets.token_hex(4)}")
        except MissingServers as exc:
            _missing("openbao", exc)
        servers.append(server)
        return server.start()

    yield factory
    for s in servers:
        s.stop()


@pytest.fixture
def fresh_vault(vault_server_factory):
    """A throw-away OpenBao server: seal it, stop it, break it."""
    return vault_server_factory()


def _namespace_name(nodeid_name: str) -> str:
    base = re.sub(r"[^a-z0-9-]+", "-", nodeid_name.lower()).strip("-")
    base = re.sub(r"-{2,}", "-", base)
    suffix = secrets.token_hex(3)
    return f"t-{base[: 63 - 2 - 1 - len(suffix)].strip('-')}-{suffix}"


@pytest.fixture
def namespace(request, kube_env):
    """A fresh namespace (DNS-safe, <= 63 chars, derived from the test name); its `default`
    ServiceAccount and token exist before the test starts. Deleted afterwards without waiting."""
    import time

    from kubernetes import client
    from kubernetes.client.rest import ApiException

    name = _namespace_name(request.node.name)
    with kube_env.api_client() as api:
        core = client.CoreV1Api(api)
        core.create_namespace({"metadata": {"name": name, "labels": {"vllmctl.test/namespace": "true"}}})
        deadline = time.monotonic() + 30
        while True:
            try:
                sa = core.read_namespaced_service_account("default", name)
                if sa.secrets:
                    break
            except ApiException as e:
                if e.status != 404:
                    raise
            if time.monotonic() > deadline:
                raise TimeoutError(f"default ServiceAccount of {name} not ready")
            time.sleep(0.05)
    yield name
    if kube_env.kubelet is not None:
        kube_env.kubelet.auto_ready(name, enabled=False)
    with kube_env.api_client() as api:
        try:
            client.CoreV1Api(api).delete_namespace(name)
        except ApiException as e:
            if e.status != 404:
                raise


@pytest.fixture(scope="session")
def _eso_stand_in(request, kube_env, vault_env):
    from .eso import EsoStandIn

    stand_in = EsoStandIn(kube_env.api_client, vault_env).install()
    request.config.stash[_eso_key] = stand_in
    yield stand_in
    stand_in.stop()


@pytest.fixture
def eso(_eso_stand_in):
    """ESO present: CRDs + ClusterSecretStore `vault-secret-store` + the reconciler thread. The
    store goes with the test, so no later test finds ESO that did not ask for it."""
    _eso_stand_in.ensure_store()
    _eso_stand_in.start()
    yield _eso_stand_in
    _eso_stand_in.delete_store()


@pytest.fixture
def eso_absent(request, kube_env):
    """ESO absent for this test: no ClusterSecretStore (as for any test that does not ask for `eso`)."""
    stand_in = request.config.stash.get(_eso_key, None)
    if stand_in is not None:
        stand_in.delete_store()
    return None


@pytest.fixture
def runtime_class(kube_env):
    """RuntimeClass `nvidia` (handler nvidia) exists during the test."""
    from kubernetes import client
    from kubernetes.client.rest import ApiException

    with kube_env.api_client() as api:
        try:
            client.NodeV1Api(api).read_runtime_class("nvidia")
            existed = True
        except ApiException as e:
            if e.status != 404:
                raise
            existed = False
    kube_env.create_runtime_class("nvidia", "nvidia")
    yield "nvidia"
    if not existed:
        kube_env.delete_runtime_class("nvidia")


# ---------------------------------------------------------------------- the real chart
def _chart_or_skip(fn, version):
    from .charts import ChartUnavailable

    try:
        return fn(version)
    except ChartUnavailable as exc:
        _missing("vllm-stack chart", exc)


@pytest.fixture(scope="session")
def real_chart():
    """``real_chart(version)`` -> Path of the real vllm-stack-<version>.tgz."""
    from .charts import chart_package

    return lambda version: _chart_or_skip(chart_package, version)


@pytest.fixture(scope="session")
def test_server_chart(_testenv_dir):
    """``test_server_chart(version)`` -> the chart an install on the 1.20 test API server uses."""
    from .charts import chart_for_test_server

    made: dict[str, Path] = {}

    def get(version: str) -> Path:
        if version not in made:
            made[version] = _chart_or_skip(lambda v: chart_for_test_server(v, _testenv_dir / "charts"), version)
        return made[version]

    return get


@pytest.fixture(scope="session")
def chart_schema():
    """``chart_schema(version)`` -> the chart repository's values schema of that version, parsed."""
    import json

    from .charts import schema_file

    return lambda version: json.loads(_chart_or_skip(schema_file, version).read_text())
