"""Kubernetes resource quantities (the subset that memory, storage and CPU requests use)."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from vllmctl.core.problems import shown

_SUFFIX: dict[str, int | Decimal] = {
    "": 1, "m": Decimal("0.001"), "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18,
    "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60,
}
_QUANTITY = re.compile(r"^(?P<num>\+?(\d+(\.\d*)?|\.\d+))(?P<suffix>[a-zA-Z]*)$")


class QuantityError(ValueError):
    pass


def parse_quantity(text: str) -> Decimal:
    match = _QUANTITY.match(text)
    if not match:
        raise QuantityError(f"{shown(text)} is not a Kubernetes quantity (a number with an optional unit, e.g. 16Gi)")
    suffix = match.group("suffix")
    if suffix not in _SUFFIX:
        close = {"gi": "Gi", "mi": "Mi", "ki": "Ki", "ti": "Ti", "gb": "G", "mb": "M", "g": "G", "GB": "G",
                 "MB": "M", "GiB": "Gi", "MiB": "Mi", "TiB": "Ti"}.get(suffix)
        hint = f"; did you mean {match.group('num')}{close}?" if close else "; use Ki, Mi, Gi, Ti or k, M, G, T"
        raise QuantityError(f"{shown(text)} has an unknown unit {shown(suffix)}{hint}")
    try:
        return Decimal(match.group("num")) * _SUFFIX[suffix]
    except InvalidOperation:  # pragma: no cover - the regex admits only valid decimals
        raise QuantityError(f"{text!r} is not a Kubernetes quantity") from None


def bytes_quantity(value: object, *, minimum: int = 2**20) -> str:
    """A memory or storage size: a quantity string of at least `minimum` bytes."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise QuantityError(f"must be a size such as 16Gi, got {shown(value)}")
    text = str(value)
    amount = parse_quantity(text)
    if amount > 2**63 - 1:  # the API server stores quantities in 64 bits
        raise QuantityError(f"{shown(text)} is more than Kubernetes can store (8Ei)")
    if amount < minimum:
        raise QuantityError(f"{text!r} is only {amount} bytes; add a unit, e.g. {text}Gi")
    return text
