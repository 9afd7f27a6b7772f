"""Emitting values into YAML text safely, whatever characters they hold."""

from __future__ import annotations

import json

# Characters YAML does not allow raw in a double-quoted scalar, or would fold as line breaks.
_ESCAPE = {0x85, 0x2028, 0x2029, 0xFEFF, 0xFFFE, 0xFFFF}


def _escape_char(ch: str) -> str:
    code = ord(ch)
    if code in _ESCAPE or 0x7F <= code <= 0x9F or 0xD800 <= code <= 0xDFFF:
        return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"
    return ch


def to_yaml_flow(value) -> str:
    """A YAML flow node (JSON syntax, which YAML 1.2 reads as is) for any plain value."""
    text = json.dumps(value, ensure_ascii=False)
    if text.isascii():
        return text
    return "".join(_escape_char(ch) for ch in text)
