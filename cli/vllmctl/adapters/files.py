"""Locked, atomic writes of the files vllmctl edits or produces."""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


def lock_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.lock")


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """An exclusive advisory lock for a read-modify-write of `path` (blocks until it is free)."""
    lock = lock_path(path)
    lock.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _unnamed_file(directory: Path, mode: int) -> int | None:
    """An open file in `directory` with no name yet (Linux O_TMPFILE): a kill before it is linked
    leaves nothing behind. None where the system or file system cannot make one."""
    flag = getattr(os, "O_TMPFILE", None)
    if flag is None:
        return None
    try:
        return os.open(directory, flag | os.O_WRONLY | os.O_CLOEXEC, mode)
    except OSError:
        return None


def _remove_left_by_dead_writers(path: Path) -> None:
    """Temp names `.{name}.{pid}.{n}.tmp` whose writer is gone: a kill in the instant between
    naming the finished temp file and the rename leaves one; the next write removes it."""
    for stray in path.parent.glob(f".{path.name}.*.tmp"):
        pid = stray.name[len(path.name) + 2:].split(".", 1)[0]
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            with contextlib.suppress(FileNotFoundError):
                stray.unlink()
        except PermissionError:
            pass  # alive, someone else's


def write_atomic(path: Path, text: str, *, mode: int | None = None) -> None:
    """Write via a temp file in the same directory, fsync, rename: readers see old or new, never half.

    The temp file has no name while it is written (O_TMPFILE), so a SIGKILL mid-write leaves no
    stray file; it gets one only for the rename, an instant before (a kill in that instant leaves
    a complete temp file, which the next write removes). Elsewhere a named temp file is used and
    removed on any exception."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if mode is None:
        try:
            mode = path.stat().st_mode & 0o777
        except FileNotFoundError:
            mode = 0o644
    _remove_left_by_dead_writers(path)
    data = text.encode("utf-8")
    fd = _unnamed_file(path.parent, mode)
    tmp = None
    try:
        if fd is None:
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
        os.fchmod(fd, mode)
        if tmp is None:
            tmp = str(path.parent / f".{path.name}.{os.getpid()}.{id(data):x}.tmp")
            # linkat(AT_SYMLINK_FOLLOW) through /proc names the open file; os.link calls linkat
            # (not link) only when given a dir fd
            proc_fd = os.open("/proc/self/fd", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            try:
                os.link(str(fd), tmp, src_dir_fd=proc_fd, follow_symlinks=True)
            finally:
                os.close(proc_fd)
        os.replace(tmp, path)
    except BaseException:
        if tmp is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        raise
    finally:
        os.close(fd) if fd is not None else None
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
