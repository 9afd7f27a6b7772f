"""What the Kubernetes API server accepts as names, label keys and values, and integers: checked
here so `validate` says file:line instead of the install failing on the server.

Each check returns None when the value is fine, else the reason (the caller adds where).
"""

from __future__ import annotations

import re

from vllmctl.core.problems import shown

INT32_MAX = 2**31 - 1
_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS_SUBDOMAIN = re.compile(rf"{_LABEL}(\.{_LABEL})*")
_NAME_PART = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
# An image repository as container runtimes parse it: [host[:port]/]path, the path lowercase.
_PATH = r"[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*"
# The first part is a registry host only with a '.', a port, or as localhost (as docker decides).
_HOST = r"(localhost|[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+)(:[0-9]+)?/|[A-Za-z0-9-]+:[0-9]+/"
_IMAGE = re.compile(rf"({_HOST})?{_PATH}(/{_PATH})*")
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")


def dns_subdomain(value: str) -> str | None:
    if len(value) > 253 or not _DNS_SUBDOMAIN.fullmatch(value):
        return (f"{shown(value)} is not a valid Kubernetes name (DNS-1123 subdomain): lowercase letters, "
                "digits, '-' and '.', starting and ending with a letter or digit, at most 253 characters")
    return None


def qualified_name(key: str, what: str = "key") -> str | None:
    """A label or annotation key: [prefix/]name, the prefix a DNS subdomain, the name 63 characters."""
    prefix, slash, name = key.rpartition("/")
    if slash and (not prefix or dns_subdomain(prefix)):
        return f"{what} {shown(key)}: the part before '/' must be a DNS subdomain such as example.com"
    if len(name) > 63 or not _NAME_PART.fullmatch(name):
        return (f"{what} {shown(key)} is not a valid Kubernetes {what}: at most 63 letters, digits, '-', '_' "
                "and '.', starting and ending with a letter or digit (with an optional 'prefix/')")
    return None


def label_value(value: str) -> str | None:
    if value and (len(value) > 63 or not _NAME_PART.fullmatch(value)):
        return (f"{shown(value)} is not a valid label value: at most 63 letters, digits, '-', '_' and '.', "
                "starting and ending with a letter or digit")
    return None


def image_repository(value: str) -> str | None:
    if not _IMAGE.fullmatch(value):
        return (f"{shown(value)} is not an image repository such as vllm/vllm-openai or "
                "registry.example.com:5000/team/vllm (the path lowercase, no tag)")
    return None


def image_tag(value: str) -> str | None:
    if not _TAG.fullmatch(value):
        return (f"{shown(value)} is not an image tag: letters, digits, '_', '.' and '-', at most 128, "
                "not starting with '.' or '-'")
    return None
