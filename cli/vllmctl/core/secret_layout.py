"""Where the two secrets live: the buun-stack module's names, kept so existing data keeps working."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SecretLayout:
    kind: str  # "hf-token" or "api-key": the word in command names
    title: str
    vault_path: str
    vault_field: str
    secret_name: str
    secret_key: str
    external_secret: str
    env_var: str

    def ref(self) -> dict[str, str]:
        """How Helm values point at the Secret: by name, never by value."""
        return {"secretName": self.secret_name, "secretKey": self.secret_key}


HF_TOKEN = SecretLayout(
    kind="hf-token",
    title="Hugging Face token",
    vault_path="vllm/huggingface",
    vault_field="token",
    secret_name="hf-token",
    secret_key="token",
    external_secret="hf-token-external-secret",
    env_var="VLLM_HF_TOKEN",
)
API_KEY = SecretLayout(
    kind="api-key",
    title="API key",
    vault_path="vllm/api-key",
    vault_field="api-key",
    secret_name="vllm-api-key",
    secret_key="api-key",
    external_secret="vllm-api-key-external-secret",
    env_var="VLLM_API_KEY",
)
LAYOUTS = (HF_TOKEN, API_KEY)
