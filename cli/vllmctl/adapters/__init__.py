"""Side effects only: files, Kubernetes, Helm, Vault, the Hugging Face Hub, HTTP endpoints."""
