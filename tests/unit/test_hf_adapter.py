"""The Hugging Face Hub adapter against a local fake Hub."""

from __future__ import annotations

import socket

import pytest

from tests.fakes.hub import FakeHub, FakeRepo
from vllmctl.adapters import hf
from vllmctl.errors import INVALID, UNREACHABLE

CONFIG = {"model_type": "llama", "hidden_size": 64, "num_attention_heads": 4}
SECRET = "hf_secret_token_123"


@pytest.fixture
def hub():
    repos = {
        "open/model": FakeRepo(config=CONFIG, revisions={"v1": {**CONFIG, "hidden_size": 32}}),
        "meta/gated": FakeRepo(config=CONFIG, gated="manual", allowed={SECRET}),
        "meta/auto": FakeRepo(config=CONFIG, gated="auto"),
        "me/private": FakeRepo(config=CONFIG, private=True, allowed={SECRET}),
        "open/noconfig": FakeRepo(config=None),
    }
    with FakeHub(repos, tokens={SECRET: "alice", "hf_other": "bob"}) as fake:
        yield fake


def _client(hub, **kw):
    return hf.HubClient(hub.url, **kw)


def test_model_info_reports_gated_and_private(hub):
    c = _client(hub)
    assert c.model_info("open/model")["gated"] is False
    assert c.model_info("meta/gated")["gated"] == "manual"
    assert c.model_info("meta/auto")["gated"] == "auto"
    assert c.is_gated("meta/gated") and not c.is_gated("open/model")
    info = c.model_info("me/private", token=SECRET)
    assert info["private"] is True and info["id"] == "me/private"


def test_model_info_missing_or_invisible_is_not_found(hub):
    c = _client(hub)
    with pytest.raises(hf.HubNotFound) as e:
        c.model_info("nobody/nothing")
    assert e.value.exit_code == INVALID
    with pytest.raises(hf.HubNotFound):
        c.model_info("me/private")
    with pytest.raises(hf.HubNotFound):
        c.model_info("me/private", token="hf_other")


def test_whoami(hub):
    c = _client(hub)
    assert c.whoami(SECRET)["name"] == "alice"
    with pytest.raises(hf.HubAuthError) as e:
        c.whoami("hf_wrong")
    assert "hf_wrong" not in str(e.value)
    with pytest.raises(hf.HubAuthError):
        c.whoami("")


def test_has_access(hub):
    c = _client(hub)
    assert c.has_access("open/model")
    assert not c.has_access("meta/gated")  # no token: 401
    assert not c.has_access("meta/gated", token="hf_other")  # valid token, not granted: 403
    assert c.has_access("meta/gated", token=SECRET)
    with pytest.raises(hf.HubNotFound):
        c.has_access("nobody/nothing")
    assert [r.method for r in hub.requests if "resolve" in r.path][0] == "HEAD"


def test_config_json(hub):
    c = _client(hub, token=SECRET)
    assert c.config_json("open/model") == CONFIG
    assert c.config_json("open/model", revision="v1")["hidden_size"] == 32
    assert c.config_json("meta/gated") == CONFIG  # client-wide token
    with pytest.raises(hf.HubNotFound):
        c.config_json("open/noconfig")
    with pytest.raises(hf.HubAuthError):
        _client(hub).config_json("meta/gated")


def test_token_only_in_the_authorization_header(hub):
    c = _client(hub)
    c.config_json("meta/gated", token=SECRET)
    with pytest.raises(hf.HubAuthError) as e:
        c.config_json("meta/gated", token="hf_other")
    assert "hf_other" not in str(e.value) and SECRET not in repr(c)
    for r in hub.requests:
        assert SECRET not in r.path and "hf_other" not in r.path
    assert hub.requests[0].headers["Authorization"] == f"Bearer {SECRET}"
    _client(hub).config_json("open/model")
    assert "Authorization" not in hub.requests[-1].headers


def test_endpoint_from_environment(hub, monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", hub.url + "/")
    assert hf.HubClient().endpoint == hub.url
    assert hf.HubClient().config_json("open/model") == CONFIG
    monkeypatch.delenv("HF_ENDPOINT")
    assert hf.HubClient().endpoint == "https://huggingface.co"


def test_unreachable_hub():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    c = hf.HubClient(f"http://127.0.0.1:{port}", timeout=1)
    with pytest.raises(hf.HubUnreachable) as e:
        c.model_info("open/model")
    assert e.value.exit_code == UNREACHABLE


def test_timeout_is_unreachable():
    slow = FakeHub({"open/model": FakeRepo(config=CONFIG)}, delay=1.0)
    with slow, pytest.raises(hf.HubUnreachable, match="did not answer within 0.2 s"):
        hf.HubClient(slow.url, timeout=0.2).config_json("open/model", token=SECRET)


def test_server_errors_are_unreachable_and_other_errors_are_hub_errors():
    with FakeHub(fail_status=503) as down, pytest.raises(hf.HubUnreachable):
        hf.HubClient(down.url).model_info("open/model")
    with FakeHub(fail_status=418) as odd, pytest.raises(hf.HubError):
        hf.HubClient(odd.url).model_info("open/model")


@pytest.mark.parametrize("repo", ["", "../etc", "a/b/c", "org/../x", "http://x"])
def test_bad_repo_ids_are_refused_without_a_request(repo):
    with pytest.raises(hf.HubNotFound):
        hf.HubClient("http://127.0.0.1:9").config_json(repo)
