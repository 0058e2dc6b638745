"""All writes to disk go through here: all files of a build or none, and only when the bytes changed.

`commit_all` is a small two-phase commit. Every changed file is first written to a temporary file
beside its target and flushed to disk; only when all of them are written are they renamed over
their targets. A full disk, a read-only folder or any other failure while writing removes the
temporary files and leaves every previous file byte-identical: never a new deck beside an old PDF.
A rename that fails half-way (very unlikely once every byte is on disk) is rolled back from hard
links to the previous files taken just before.

A build killed at any moment leaves each previous file whole (a rename is atomic), plus perhaps a
temporary file; temporary files carry the pid of the build that wrote them, and the next build
removes those whose build is gone.
"""

from __future__ import annotations

import contextlib
import errno
import filecmp
import hashlib
import os
import re
import secrets
import shutil
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

from .diagnostics import display_path

# ".<target name>.<pid>-<random>.tmp": hidden, and tells which build wrote it.
_TEMP = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)-[0-9a-z]+\.tmp$")
# What builds before `commit_all` left behind (tempfile.mkstemp's eight random characters).
_LEGACY_TEMP = re.compile(r"^\..+\.(apkg|pdf|epub|yaml)\.[0-9a-z_]{8}\.tmp$")
_NO_SPACE = {errno.ENOSPC, errno.EFBIG, errno.EDQUOT}
_NOT_ALLOWED = {errno.EACCES, errno.EPERM, errno.EROFS}


@dataclass(frozen=True)
class Spooled:
    """An artifact's bytes in a temporary file rather than in memory: the merged PDF of a large
    book (≈ 0.8 GB at 5,000 questions) would otherwise be held by its renderer, pickled to the
    build process and copied once more there. Made by `spool()`; `commit_all` copies it to its
    target and `discard` removes it whatever happened."""

    path: Path

    def __len__(self) -> int:
        return self.path.stat().st_size

    def sha256(self) -> str:
        with open(self.path, "rb") as fh:
            return hashlib.file_digest(fh, "sha256").hexdigest()


Data = bytes | Spooled


def spool(suffix: str = "") -> Spooled:
    """A new, empty spooled artifact in the temporary directory; the renderer writes its `path`."""
    fd, name = tempfile.mkstemp(prefix="studybook-artifact-", suffix=suffix)
    os.close(fd)
    return Spooled(Path(name))


def sha256(data: Data) -> str:
    return data.sha256() if isinstance(data, Spooled) else hashlib.sha256(data).hexdigest()


def discard(items: list[Data]) -> None:
    """Remove the temporary files of spooled artifacts (after a commit, or a failed build)."""
    for data in items:
        if isinstance(data, Spooled):
            data.path.unlink(missing_ok=True)


class WriteError(OSError):
    """A file could not be written; nothing was changed. The message is one line for the user."""


def commit_all(files: list[tuple[Path, Data]]) -> list[tuple[Path, int, bool]]:
    """Write every (path, data) or, on any failure, none; return (path, size, changed) for each.

    Missing folders are created (as `make` expects of `dist/`); a file whose bytes are unchanged
    is not rewritten, so it keeps its timestamp and Make does not redo work that depends on it.
    Raises WriteError with a message of the form "path: what is wrong — what to do".
    """
    for folder in dict.fromkeys(path.parent for path, _ in files):
        _prepare(folder)
    changed = [(path, data) for path, data in files if not _same(path, data)]
    staged: list[tuple[Path, Path]] = []  # (temporary file, target)
    current = changed[0][0] if changed else Path()
    try:
        for current, data in changed:
            if current.exists() and not current.is_file():
                raise WriteError(f"{display_path(current)}: is a directory or special file, where the build "
                                 "writes a file — remove it or choose another --out; nothing was changed")
            staged.append((_write_temp(current, data), current))
        _replace_all(staged)
    except WriteError:
        raise
    except OSError as exc:
        raise WriteError(_explain(current, exc)) from None
    finally:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
    for folder in dict.fromkeys(path.parent for path, _ in changed):
        _sync_dir(folder)
    names = {path for path, _ in changed}
    return [(path, len(data), path in names) for path, data in files]


def write_atomic(path: Path, data: bytes) -> bool:
    """Replace one file (see `commit_all`); return False if its bytes were already these."""
    return commit_all([(path, data)])[0][2]


def _prepare(folder: Path) -> None:
    """Create the folder if needed, check it is one, and remove temporary files of dead builds."""
    shown = display_path(folder)
    if folder.exists() and not folder.is_dir():
        raise WriteError(f"{shown}: is a file, not a folder — remove it or choose another --out; "
                         "nothing was written")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise WriteError(f"{shown}: cannot create the folder: part of its path is a file — "
                         "choose another --out; nothing was written") from None
    except OSError as exc:
        raise WriteError(f"{shown}: cannot create the folder: {exc.strerror} — create it yourself or "
                         "choose another --out; nothing was written") from None
    for entry in folder.iterdir():
        if _is_stale(entry.name):
            # In a read-only folder the write below reports it; a stale file harms nothing.
            with contextlib.suppress(OSError):
                entry.unlink()


def _is_stale(name: str) -> bool:
    if _LEGACY_TEMP.match(name):
        return True
    match = _TEMP.match(name)
    if not match:
        return False
    pid = int(match["pid"])
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False  # alive, but another user's
    return False  # alive: a build running right now (its pid could also be reused; then next time)


def _same(path: Path, data: Data) -> bool:
    try:
        if not path.is_file() or path.stat().st_size != len(data):
            return False
        if isinstance(data, Spooled):
            return filecmp.cmp(path, data.path, shallow=False)
        return path.read_bytes() == data
    except OSError:
        return False


def _temp_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp")


def _write_temp(path: Path, data: Data) -> Path:
    tmp = _temp_path(path)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        os.fchmod(fd, 0o644)  # whatever the umask: artifacts are for sharing
        if isinstance(data, Spooled):
            with open(data.path, "rb") as source, os.fdopen(os.dup(fd), "wb") as target:
                shutil.copyfileobj(source, target, 1 << 20)
        else:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
        os.fsync(fd)  # on disk before any rename: a crash never leaves a renamed, empty file
    except BaseException:
        os.close(fd)
        tmp.unlink(missing_ok=True)
        raise
    os.close(fd)
    return tmp


def _replace_all(staged: list[tuple[Path, Path]]) -> None:
    """Rename every temporary file over its target; if one rename fails, undo the others."""
    backups: dict[Path, Path | None] = {}  # target → its previous bytes (None: it did not exist)
    try:
        for _, path in staged:
            backups[path] = _backup(path) if path.exists() else None
        done: list[Path] = []
        try:
            for tmp, path in staged:
                os.replace(tmp, path)
                done.append(path)
        except OSError:
            for path in reversed(done):
                backup = backups[path]
                if backup is None:
                    path.unlink(missing_ok=True)
                else:
                    os.replace(backup, path)
                    backups[path] = None
            raise
    finally:
        for backup in backups.values():
            if backup is not None:
                backup.unlink(missing_ok=True)


def _backup(path: Path) -> Path:
    backup = _temp_path(path)
    try:
        os.link(path, backup)  # free: the previous bytes stay where they are
    except OSError:
        return _write_temp(path, path.read_bytes())  # a file system without hard links
    return backup


def _sync_dir(folder: Path) -> None:
    """Make the renames durable (a power cut would otherwise be allowed to undo them)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems cannot sync a folder; the renames themselves are done
    finally:
        os.close(fd)


def _explain(path: Path, exc: OSError) -> str:
    kept = f"the previous files in {display_path(path.parent)} are unchanged"
    if exc.errno in _NO_SPACE:
        return (f"{display_path(path)}: cannot write: {exc.strerror} (the disk is full or a size limit is "
                f"reached) — free some space and build again; {kept}")
    if exc.errno in _NOT_ALLOWED:
        return (f"{display_path(path.parent)}: cannot write there: {exc.strerror} — make the folder writable "
                f"or choose another --out; {kept}")
    return f"{display_path(path)}: cannot write: {exc.strerror or exc} — {kept}"


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
