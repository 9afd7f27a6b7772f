"""The namespace's Pod Security labels, as the seed sets them: engines need nothing beyond baseline."""

NAMESPACE_LABELS = {
    "pod-security.kubernetes.io/enforce": "baseline",
    "pod-security.kubernetes.io/enforce-version": "latest",
    "pod-security.kubernetes.io/warn": "baseline",
    "pod-security.kubernetes.io/warn-version": "latest",
}
