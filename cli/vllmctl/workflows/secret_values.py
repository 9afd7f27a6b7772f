"""Where secret values come from: stdin (--stdin), the CLI's own environment, or a hidden prompt.

Never from a command-line argument (the process table is world-readable). Generated API keys
are 48 alphanumeric characters from `secrets`.
"""

from __future__ import annotations

import os
import secrets
import string
import sys
from collections.abc import Callable

from vllmctl.core.secret_layout import SecretLayout
from vllmctl.errors import InvalidInput

# A hidden prompt: question -> answer ("" when the user just pressed Enter). Commands pass one
# only when a prompt is allowed (a TTY, no --yes, CI unset); None means "never ask".
Prompt = Callable[[str], str]

API_KEY_LENGTH = 48
_ALPHABET = string.ascii_letters + string.digits
_MAX_LENGTH = 4096


def generate_api_key() -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(API_KEY_LENGTH))


def check_value(layout: SecretLayout, value: str, source: str) -> str:
    """One line of printable text; the message names the source, never the value."""
    value = value.strip()
    if not value:
        raise InvalidInput(f"the {layout.title} from {source} is empty.")
    if len(value) > _MAX_LENGTH:
        raise InvalidInput(f"the {layout.title} from {source} is longer than {_MAX_LENGTH} characters.")
    if any(ch.isspace() or not ch.isprintable() for ch in value):
        raise InvalidInput(f"the {layout.title} from {source} contains whitespace or control characters; "
                           "give one line with the value only.")
    return value


def from_stdin(layout: SecretLayout) -> str:
    text = sys.stdin.read()
    return check_value(layout, text, "stdin")


def from_environment(layout: SecretLayout) -> str | None:
    raw = os.environ.get(layout.env_var)
    if raw is None or not raw.strip():
        return None
    return check_value(layout, raw, layout.env_var)


def explicit_value(layout: SecretLayout, *, stdin: bool) -> str | None:
    """The value the user handed over on purpose: --stdin first, then the environment variable."""
    if stdin:
        return from_stdin(layout)
    return from_environment(layout)


def ask_value(layout: SecretLayout, prompt: Prompt | None, question: str | None = None) -> str | None:
    """A hidden prompt, when allowed; None when not allowed or left empty."""
    if prompt is None:
        return None
    answer = prompt(question or layout.title)
    return check_value(layout, answer, "the prompt") if answer.strip() else None


def vault_token(prompt: Prompt | None) -> str:
    """VAULT_TOKEN, ~/.vault-token, or a hidden prompt; MissingAnswer naming VAULT_TOKEN otherwise."""
    from vllmctl.adapters.vault import token_from_environment
    from vllmctl.errors import MissingAnswer

    token = token_from_environment()
    if token:
        return token
    if prompt is not None:
        answer = prompt("Vault token").strip()
        if answer:
            return answer
    raise MissingAnswer("no Vault token: set VAULT_TOKEN or log in (vault login) so ~/.vault-token exists.")
