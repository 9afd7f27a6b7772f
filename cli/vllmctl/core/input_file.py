"""Reading a file the user handed vllmctl (models.yaml, .env.local, a values overlay) without
trusting it: a regular file only (a FIFO would hang the read, a device never end it), a size
limit, and UTF-8 text without control characters, each refusal one `file:line:column:` line.

MAX_BYTES is 256 KiB: a models.yaml of 500 models is about 75 KiB, and the Helm release that a
file becomes must fit a 1 MiB Kubernetes Secret anyway. The YAML parser's time is bounded by
core.safe_yaml's node limit; this one bounds reading, decoding and scanning.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path

from vllmctl.core.problems import InvalidFile, Problem, problem_at

MAX_BYTES = 256 * 1024
UTF8_BOM = "\ufeff"
_UTF16_32_BOMS = (b"\x00\x00\xfe\xff", b"\xff\xfe\x00\x00", b"\xfe\xff", b"\xff\xfe")
# What YAML 1.2 does not allow in a stream (outside c-printable), plus NEL (U+0085: YAML 1.1 breaks
# lines there) and CR (allowed only before LF). Written as the refused ranges: the allowed ones
# negated take 6 ms to compile, at every start.
_REFUSED = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
_NAMES = {0: "NUL", 0x1B: "ESC", 0x7F: "DEL", 0x0D: "carriage return", 0x08: "backspace", 0x0C: "form feed"}


@dataclass(frozen=True)
class SourceText:
    file: str  # as messages name it
    text: str  # decoded; line ends as in the file; without a leading byte-order mark
    bom: bool = False  # the file started with a UTF-8 byte-order mark (kept when it is rewritten)

    @property
    def newline(self) -> str:
        """The file's line end: CRLF when its first line ends so, else LF (what edits add)."""
        first = self.text.find("\n")
        return "\r\n" if first > 0 and self.text[first - 1] == "\r" else "\n"

    def for_writing(self, text: str) -> str:
        """Edited text as it goes back to disk: the byte-order mark restored."""
        return UTF8_BOM + text if self.bom else text


def _kind(mode: int) -> str:
    for test, what in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a named pipe (FIFO)"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return what
    return "not a regular file"


def _refuse(file: str, message: str) -> InvalidFile:
    return InvalidFile([Problem(file, 1, 1, message)])


def read_bytes(path: Path, *, file: str | None = None, limit: int = MAX_BYTES) -> bytes:
    """The bytes of the regular file `path` (FileNotFoundError when nothing is there at all)."""
    file = file or str(path)
    try:
        info = os.stat(path)  # before opening: opening a device or FIFO can block or have effects
    except FileNotFoundError:
        if os.path.islink(path):
            raise _refuse(file, f"is a symbolic link to {os.readlink(path)!r}, which does not exist; "
                                "fix the link or point the setting at the real file") from None
        raise
    except OSError as e:
        raise _refuse(file, f"cannot be read: {e.strerror}") from None
    if not stat.S_ISREG(info.st_mode):
        linked = " (through a symbolic link)" if os.path.islink(path) else ""
        raise _refuse(file, f"is {_kind(info.st_mode)}{linked}, not a regular file; point it at a file")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError as e:
        raise _refuse(file, f"cannot be read: {e.strerror}") from None
    try:
        info = os.fstat(fd)  # the file opened, in case it was swapped after the first look
        if not stat.S_ISREG(info.st_mode):
            raise _refuse(file, f"is {_kind(info.st_mode)}, not a regular file; point it at a file")
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(fd, limit + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    finally:
        os.close(fd)
    if size > limit:
        raise _refuse(file, f"is larger than {limit // 1024} KiB, the most vllmctl reads; "
                            "split it or remove what it does not need")
    return b"".join(chunks)


def _char_name(ch: str) -> str:
    code = ord(ch)
    name = _NAMES.get(code) or ("a control character" if code < 0x20 or 0x7F <= code <= 0x9F else "a character")
    return f"{name} (U+{code:04X})"


def decode(data: bytes, file: str) -> SourceText:
    """UTF-8 text, or InvalidFile naming where it is not: another encoding, an invalid byte, a
    control character (NUL, ESC, ...) or a bare carriage return."""
    if data.startswith(_UTF16_32_BOMS) and not data.startswith(b"\xef\xbb\xbf"):
        raise _refuse(file, "is UTF-16 or UTF-32 text (it starts with such a byte-order mark); save it as UTF-8")
    head = data[:64]
    if len(head) >= 4 and head.count(0) * 4 >= len(head) and 0 in head[:4]:
        raise _refuse(file, "looks like UTF-16 or UTF-32 text (NUL bytes between the characters); save it as UTF-8")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        good = data[: e.start].decode("utf-8")
        raise InvalidFile([problem_at(file, good, len(good), f"invalid UTF-8 (byte 0x{data[e.start]:02x}): "
                                                             "the file must be UTF-8; save it as UTF-8")]) from None
    bom = text.startswith(UTF8_BOM)
    if bom:
        text = text[1:]
    problems = []
    for match in _REFUSED.finditer(text):
        ch, at = match.group(), match.start()
        if ch == "\r" and text.startswith("\n", at + 1):
            continue
        what = ("a carriage return without a line feed: save the file with LF or CRLF line ends"
                if ch == "\r" else f"{_char_name(ch)} is not allowed in the file; remove it")
        problems.append(problem_at(file, text, at, what))
    if problems:
        raise InvalidFile(problems)
    return SourceText(file, text, bom)


def read_source(path: Path, *, file: str | None = None, limit: int = MAX_BYTES) -> SourceText:
    """read_bytes + decode: the checked text of a user's file."""
    file = file or str(path)
    return decode(read_bytes(path, file=file, limit=limit), file)
