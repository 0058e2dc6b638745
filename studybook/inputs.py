"""Reading input files at the edge: only regular files, and only up to a size limit.

A FIFO or a device named as a source, bibliography or image would block the build forever or
read until memory runs out (`/dev/zero`); a directory would fail deep inside a parser. Each is
refused here with one line before any byte is read. The limits are far above what a real book
needs (the 50-question handbook is 0.23 MB, its bibliography 0.12 MB) and are documented in
docs/authoring.md.
"""

from __future__ import annotations

import stat
from pathlib import Path

MIB = 1024 * 1024
SOURCE_LIMIT = 64 * MIB  # a 5,000-question book is 23 MiB (scripts/generate_book.py)
BIBLIOGRAPHY_LIMIT = 4 * MIB
IMAGE_LIMIT = 8 * MIB


class InputError(ValueError):
    """Why a file cannot be read; the caller adds the location and the fix."""


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def read_bytes(path: Path, limit: int) -> bytes:
    """The bytes of `path`, which must be a regular file of at most `limit` bytes.

    Raises FileNotFoundError when it does not exist and InputError when it is not a regular file
    or is too large. The size is checked twice: from `stat` before opening (so nothing is read),
    and while reading (a file that grows meanwhile still stops at the limit).
    """
    info = path.stat()
    if not stat.S_ISREG(info.st_mode):
        raise InputError(f"is {_kind(info.st_mode)}, not a regular file")
    if info.st_size > limit:
        raise InputError(f"is {info.st_size / MIB:.1f} MiB, more than the limit of {limit // MIB} MiB")
    with path.open("rb") as f:
        data = f.read(limit + 1)
    if len(data) > limit:
        raise InputError(f"is more than the limit of {limit // MIB} MiB")
    return data
