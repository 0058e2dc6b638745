"""All writes to disk go through here: atomically, and only when the bytes changed."""

from __future__ import annotations

import os
import tempfile
import time
import zipfile
from pathlib import Path


def write_atomic(path: Path, data: bytes) -> bool:
    """Replace `path` with `data` via a temporary file + rename; return False if unchanged.

    A build killed half-way leaves the previous artifact intact; an unchanged artifact keeps its
    timestamp, so Make does not redo work that depends on it.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        if path.read_bytes() == data:
            return False
    except OSError:
        pass
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return True


def zip_date(epoch: int) -> tuple[int, int, int, int, int, int]:
    # ZIP cannot store dates before 1980.
    return time.gmtime(max(epoch, 315532800))[:6]


def write_zip(entries: list[tuple[str, bytes, bool]], epoch: int, target) -> None:
    """Write (name, data, compress) entries in the given order with fixed dates and modes."""
    with zipfile.ZipFile(target, "w") as zf:
        for name, data, compress in entries:
            info = zipfile.ZipInfo(name, date_time=zip_date(epoch))
            info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
            info.external_attr = 0o644 << 16
            info.create_system = 3  # unix, whatever the build machine is
            zf.writestr(info, data, compresslevel=9 if compress else None)
