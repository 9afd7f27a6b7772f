"""Secret values: generation, checks, sources (pure or process-local, no servers)."""

from __future__ import annotations

import io
import re

import pytest

from vllmctl.core.secret_layout import API_KEY, HF_TOKEN
from vllmctl.errors import InvalidInput, MissingAnswer
from vllmctl.workflows import secret_values as sv


def test_generated_api_keys():
    keys = {sv.generate_api_key() for _ in range(200)}
    assert len(keys) == 200
    assert all(re.fullmatch(r"[A-Za-z0-9]{48}", k) for k in keys)
    # all 62 symbols are used: a strong alphabet, not hex
    assert len(set("".join(keys))) == 62


@pytest.mark.parametrize("raw", ["", "   \n", "a b", "two\nlines", "tab\there", "bell\x07", "x" * 5000])
def test_bad_values_are_refused_without_echo(raw):
    with pytest.raises(InvalidInput) as err:
        sv.check_value(HF_TOKEN, raw, "stdin")
    assert "stdin" in str(err.value)
    if raw.strip():
        assert raw.strip()[:4] not in str(err.value).replace("stdin", "")


def test_trailing_newline_is_dropped():
    assert sv.check_value(API_KEY, "key123\n", "stdin") == "key123"


def test_sources_in_order(monkeypatch):
    monkeypatch.setenv("VLLM_HF_TOKEN", "from-env")
    monkeypatch.setattr("sys.stdin", io.StringIO("from-stdin\n"))
    assert sv.explicit_value(HF_TOKEN, stdin=True) == "from-stdin"
    assert sv.explicit_value(HF_TOKEN, stdin=False) == "from-env"
    monkeypatch.setenv("VLLM_HF_TOKEN", "  ")
    assert sv.explicit_value(HF_TOKEN, stdin=False) is None


def test_prompt_only_when_allowed():
    assert sv.ask_value(HF_TOKEN, None) is None
    assert sv.ask_value(HF_TOKEN, lambda q: "") is None
    assert sv.ask_value(HF_TOKEN, lambda q: "typed\n") == "typed"


def test_vault_token_sources(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("VAULT_TOKEN", "env-token")
    assert sv.vault_token(None) == "env-token"
    monkeypatch.delenv("VAULT_TOKEN")
    (tmp_path / ".vault-token").write_text("file-token\n")
    assert sv.vault_token(None) == "file-token"
    (tmp_path / ".vault-token").unlink()
    assert sv.vault_token(lambda q: "typed") == "typed"
    with pytest.raises(MissingAnswer, match="VAULT_TOKEN"):
        sv.vault_token(None)


def test_a_value_that_is_no_hf_token_is_named_without_being_quoted():
    from vllmctl.core.hf_policy import token_shape_problem

    assert token_shape_problem("hf_" + "a1B2" * 8 + "cD") is None
    for value, why in [("ghp_" + "x" * 36, "does not start with hf_"), ("hf_short", "has 8 characters"),
                       ("hf_" + "a" * 34 + "\n", "spaces or line breaks"), ("my token", "spaces")]:
        problem = token_shape_problem(value)
        assert problem and why in problem and value.strip() not in problem
