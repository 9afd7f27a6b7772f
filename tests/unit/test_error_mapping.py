"""Exit codes decided in one place: only a server that cannot be reached is 3; a bug is exit 1 with
"internal error ... --debug", never dressed up as "unreachable". Text from the cluster is printed
verbatim, never parsed as rich markup."""

from __future__ import annotations

import pytest
import urllib3

from vllmctl import console
from vllmctl.adapters.kube_client import ApiStatus, Cluster, request, transport_errors
from vllmctl.errors import UNREACHABLE, Unreachable

CLUSTER = Cluster(api_client=None, context="test", server="https://127.0.0.1:1", kubeconfig="")


@pytest.mark.parametrize("failure", [
    urllib3.exceptions.MaxRetryError(None, "/version", reason=ConnectionRefusedError("Connection refused")),
    urllib3.exceptions.ProtocolError("connection reset"),
    ConnectionResetError("reset by peer"),
])
def test_a_connection_that_fails_is_unreachable(failure):
    with pytest.raises(Unreachable) as caught, transport_errors(CLUSTER):
        raise failure
    assert caught.value.exit_code == UNREACHABLE and "https://127.0.0.1:1 (context 'test')" in str(caught.value)


def test_the_clients_tls_wrapping_is_unreachable_and_its_status_errors_are_answers():
    from kubernetes.client.exceptions import ApiException

    with pytest.raises(Unreachable, match="certificate verify failed"), transport_errors(CLUSTER):
        raise ApiException(status=0, reason="SSLError\n[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed")
    with pytest.raises(ApiStatus) as caught, transport_errors(CLUSTER):
        raise ApiException(status=429, reason="Too Many Requests")
    assert caught.value.status == 429


def test_a_bug_is_not_unreachable():
    class Broken:
        def param_serialize(self, **kw):
            return "GET", "https://127.0.0.1:1/version", {}, None, None

        def call_api(self, *args, **kw):
            raise TypeError("a bug")

    with pytest.raises(TypeError, match="a bug"):
        request(Cluster(Broken(), "test", "https://127.0.0.1:1", ""), "GET", "/version")


def test_an_unexpected_exception_is_an_internal_error_exit_1(monkeypatch, capsys):
    from vllmctl.commands.app import main
    from vllmctl.workflows import ops

    def broken(*args, **kwargs):
        raise KeyError("metadata")

    monkeypatch.setattr(ops, "connect", broken)
    assert main(["status"]) == 1
    err = capsys.readouterr().err
    assert "internal error: KeyError" in err and "--debug" in err
    assert "reach" not in err and "Traceback" not in err


def test_cluster_text_is_printed_verbatim(capsys):
    console._console.cache_clear()  # a console on this test's captured stderr
    text = "0/1 nodes are available: [bold]1 Insufficient nvidia.com/gpu[/bold] [/] [link=x]"
    console.warn(text)
    console.error(text)
    live = console.live(lambda: "pulling")
    live.start()
    live.update(text)
    live.stop()
    err = capsys.readouterr().err
    assert err.count(text) == 3, err
    console._console.cache_clear()
