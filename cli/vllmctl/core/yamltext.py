"""Emitting values into YAML text safely, whatever characters they hold."""

from __future__ import annotations

import json
import re

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


_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_./-]*$")
_SPECIAL = {"true", "false", "null", "yes", "no", "on", "off", "y", "n"}


def _key(key) -> str:
    text = str(key)
    return text if _PLAIN_KEY.match(text) and text.lower() not in _SPECIAL else to_yaml_flow(text)


def to_yaml_block(mapping: dict, indent: int = 0) -> str:
    """A mapping as block YAML in the layout of values.yaml.j2: mappings and lists of mappings as
    blocks, every other value one flow node on its key's line (so each line is structure, and
    indenting all lines nests the document safely)."""
    pad, lines = " " * indent, []
    for key, value in mapping.items():
        if isinstance(value, dict) and value:
            lines.append(f"{pad}{_key(key)}:\n{to_yaml_block(value, indent + 2)}")
        elif isinstance(value, list) and any(isinstance(item, dict) and item for item in value):
            lines.append(f"{pad}{_key(key)}:\n{_block_list(value, indent)}")
        else:
            lines.append(f"{pad}{_key(key)}: {to_yaml_flow(value)}\n")
    return "".join(lines)


def _block_list(items: list, indent: int) -> str:
    pad, out = " " * indent, []
    for item in items:
        if isinstance(item, dict) and item:
            text = to_yaml_block(item, indent + 2)
            out.append(f"{pad}- {text[indent + 2:]}")
        else:
            out.append(f"{pad}- {to_yaml_flow(item)}\n")
    return "".join(out)
