"""The environment of every process vllmctl starts (helm and its post-renderer, the engine probe):
an allow-list, not the CLI's own environment.

vllmctl's own process holds secrets in its environment (VLLM_HF_TOKEN, VLLM_API_KEY, VAULT_TOKEN,
possibly from .env.local); no child needs them, and a child's environment can be read by anything
running as the same user (/proc/<pid>/environ). A deny-list misses the next secret someone
exports; the allow-list passes only what helm, kubeconfig credential plugins and Python need:

- exact names (ALLOWED), including the cloud CLIs' profile and credential-FILE settings that
  EKS/GKE/AKS kubeconfig plugins read (paths and profile names, not the credentials);
- prefixes (LC_, XDG_, HELM_, VLLM_, HF_, KUBE) minus every name that looks like a secret
  (TOKEN, SECRET, PASSWORD, API_KEY, CREDENTIAL, PRIVATE ...);
- VLLMCTL_CHILD_ENV: a comma-separated list of further names to pass as they are, for a
  credential plugin that needs, say, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY. vllmctl's
  own secrets (NEVER) are never passed, even when named there.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

PASS_ENV = "VLLMCTL_CHILD_ENV"
NEVER = frozenset({"VLLM_HF_TOKEN", "VLLM_API_KEY", "VAULT_TOKEN", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"})
ALLOWED = frozenset({
    "PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LANGUAGE", "TZ", "TERM", "NO_COLOR",
    "TMPDIR", "TMP", "TEMP", "KUBECONFIG", "SSL_CERT_FILE", "SSL_CERT_DIR",
    "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "no_proxy", "all_proxy",
    "PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV",
    # kubeconfig exec plugins (aws eks get-token, gke-gcloud-auth-plugin, kubelogin)
    "AWS_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_STS_REGIONAL_ENDPOINTS",
    "GOOGLE_APPLICATION_CREDENTIALS", "CLOUDSDK_CONFIG", "CLOUDSDK_CORE_PROJECT", "USE_GKE_GCLOUD_AUTH_PLUGIN",
    "AZURE_CONFIG_DIR", "AAD_LOGIN_METHOD",
})
PREFIXES = ("LC_", "XDG_", "HELM_", "VLLM_", "HF_", "KUBE")
_SECRET_LOOKING = re.compile(
    r"TOKEN|SECRET|PASSW|PASSPHRASE|API_?KEY|ACCESS_?KEY|CREDENTIAL|PRIVATE|AUTH|COOKIE|SESSION", re.IGNORECASE
)


def looks_secret(name: str) -> bool:
    return name in NEVER or bool(_SECRET_LOOKING.search(name))


def child_environment(environ: Mapping[str, str], **extra: str) -> dict[str, str]:
    """The environment for a child process, from the CLI's own (`environ`), plus `extra`."""
    passed = {n.strip() for n in environ.get(PASS_ENV, "").split(",") if n.strip()} - NEVER
    env = {
        name: value
        for name, value in environ.items()
        if name in ALLOWED or name in passed or (name.startswith(PREFIXES) and not looks_secret(name))
    }
    env.update(extra)
    return env
