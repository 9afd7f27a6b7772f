"""Which models need the Hugging Face token."""

from __future__ import annotations

import re

from vllmctl.core.models import ModelEntry

# The buun-stack module's guess, kept only as the offline fallback: it misses other gated repos
# and flags ungated repos of these orgs, which is why the Hub is asked first when it can be.
SEED_GATED_PREFIXES = ("meta-llama/", "mistralai/", "google/gemma")


def guess_gated(model_url: str) -> bool:
    return model_url.startswith(SEED_GATED_PREFIXES)


def needs_hf_token(model: ModelEntry, gated: bool | None = None) -> tuple[bool, str]:
    """(needed, why): the model's own hfTokenRequired, else the Hub's answer, else the org guess."""
    if model.hfTokenRequired is not None:
        return model.hfTokenRequired, "hfTokenRequired in models.yaml"
    if gated is not None:
        return gated, "the Hugging Face Hub says the repository is " + ("gated" if gated else "not gated")
    return guess_gated(model.modelURL), "guessed from the organisation (the Hub was not asked)"


# Hugging Face user access tokens: "hf_" and 34 letters and digits (older ones had other lengths).
_HF_TOKEN_SHAPE = re.compile(r"hf_[A-Za-z0-9]{30,40}")


def token_shape_problem(value: str) -> str | None:
    """Why `value` does not look like a Hugging Face token (never quoting it), or None."""
    if _HF_TOKEN_SHAPE.fullmatch(value):
        return None
    if value != value.strip() or any(c.isspace() for c in value):
        return "the value holds spaces or line breaks, which no Hugging Face token has"
    if not value.startswith("hf_"):
        return "the value does not start with hf_ as Hugging Face tokens do"
    return f"the value has {len(value)} characters; Hugging Face tokens are hf_ and 34 letters and digits"
