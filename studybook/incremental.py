"""Incremental builds: an artifact whose inputs have not changed since it was written is not rendered.

Every artifact records, in a build manifest, a digest of everything that can shape its bytes and
the sha256 of the bytes written. The next build computes the digest again *before* reading the
book (no Markdown parsing, no heavy imports: this module uses the standard library only) and skips
each target whose digest matches and whose file on disk still has the recorded bytes.

What the digest covers (deliberately a superset: a spurious rebuild costs time, a missed one
ships a stale book):
- every file under the book's directory (the source, the translation overlay and the original it
  overlays, the bibliography, glossary, images; figure specs live in the Markdown). The build time
  without SOURCE_DATE_EPOCH is the newest of these files' mtimes, so this is also what decides it;
- the templates directory and the code of the `studybook` package and build.py;
- the installed distributions (names and versions of every *.dist-info on sys.path: the pins as
  they really are) and the Python version;
- the installed fonts (path, size, mtime under the font directories), which shape the PDFs;
- the options: target, paper size (print outputs only), --strict, and the build time.

The manifest lives in the cache directory (one file per output directory and source), not in the
output directory, so dist/ holds the artifacts and nothing else. Warnings the build printed are
kept with the entry and printed again when the artifact is skipped, so a no-op build says what a
full one said.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from . import output
from .output import Data

ROOT = Path(__file__).resolve().parent.parent
# Bump to invalidate every manifest (a change in what the digest means).
_FORMAT = 1
_FONT_DIRS = ("/usr/share/fonts", "/usr/local/share/fonts", str(Path.home() / ".local/share/fonts"),
              str(Path.home() / ".fonts"))
# Targets whose bytes depend on the paper size.
_PAPER_TARGETS = {"pdf", "flashcards", "quiz"}


def _files(directory: Path) -> list[Path]:
    out = []
    for base, dirs, names in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if d not in ("__pycache__", ".git"))
        out += [Path(base) / n for n in sorted(names) if not n.endswith((".pyc", ".tmp"))]
    return out


def _hash_tree(h: hashlib._Hash, directory: Path, label: str) -> None:
    for path in _files(directory):
        h.update(f"{label}/{path.relative_to(directory).as_posix()}\0".encode())
        h.update(hashlib.sha256(path.read_bytes()).digest())


def _hash_listing(h: hashlib._Hash, directories: Iterable[str]) -> None:
    """Names, sizes and mtimes only: cheap, and any reinstall or upgrade changes them."""
    for directory in directories:
        if not os.path.isdir(directory):
            continue
        for path in _files(Path(directory)):
            try:
                st = path.stat()
            except OSError:
                continue
            h.update(f"{path}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())


def _distributions() -> list[str]:
    names: set[str] = set()
    for entry in sys.path:
        if os.path.isdir(entry):
            names.update(n for n in os.listdir(entry) if n.endswith(".dist-info"))
    return sorted(names)


def common_digest(source: Path, templates: Path) -> str:
    """The digest of what every artifact of this book depends on (options come on top)."""
    h = hashlib.sha256(f"studybook-build-{_FORMAT}\0".encode())
    _hash_tree(h, source.resolve().parent, "content")
    h.update(f"source\0{source.name}\0{environment_digest(templates)}".encode())
    return h.hexdigest()


def environment_digest(templates: Path) -> str:
    """The digest of what shapes an artifact besides the book: the templates, the code, the
    installed distributions, Python and the fonts (studybook/render/layout_cache.py keys the
    layouts it keeps by it)."""
    h = hashlib.sha256(f"{sys.version}\0{platform.machine()}\0".encode())
    _hash_tree(h, templates, "templates")
    _hash_tree(h, ROOT / "studybook", "studybook")
    h.update(hashlib.sha256((ROOT / "build.py").read_bytes()).digest())
    h.update("\n".join(_distributions()).encode())
    _hash_listing(h, _FONT_DIRS)
    return h.hexdigest()


def target_digest(common: str, target: str, *, paper: str, strict: bool, build_time: int) -> str:
    options = {"target": target, "strict": strict, "build_time": build_time,
               "paper": paper if target in _PAPER_TARGETS else None}
    return hashlib.sha256((common + json.dumps(options, sort_keys=True)).encode()).hexdigest()


@dataclass
class Entry:
    inputs: str  # the target digest
    file: str  # the artifact's file name in the output directory
    sha256: str  # of the bytes written
    warnings: list[str]  # as printed by the build that wrote it


class Manifest:
    """What the last successful build of one book into one output directory wrote, per target."""

    def __init__(self, cache: Path, out: Path, source: Path):
        key = hashlib.sha256(f"{out.resolve()}\0{source.resolve()}".encode()).hexdigest()[:24]
        self.path = cache / "builds" / f"{key}.json"
        self.out = out
        self.entries: dict[str, Entry] = {}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            self.entries = {t: Entry(**e) for t, e in data.get("targets", {}).items()}
        except (OSError, ValueError, TypeError):
            pass  # no manifest, or an unreadable one: everything is rebuilt

    def up_to_date(self, target: str, digest: str) -> Entry | None:
        """The entry of `target` if its inputs are unchanged and its file still holds what was written."""
        entry = self.entries.get(target)
        if entry is None or entry.inputs != digest:
            return None
        try:
            with open(self.out / entry.file, "rb") as fh:  # streamed: an artifact can be 1 GB
                written = hashlib.file_digest(fh, "sha256").hexdigest()
        except OSError:
            return None
        return entry if written == entry.sha256 else None

    def record(self, target: str, digest: str, file: str, data: Data, warnings: list[str]) -> None:
        self.entries[target] = Entry(digest, file, output.sha256(data), warnings)

    def save(self) -> None:
        """Written after the artifacts: a crash in between only costs a rebuild next time."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"format": _FORMAT, "targets": {t: vars(e) for t, e in sorted(self.entries.items())}},
                                  indent=1, sort_keys=True), encoding="utf-8")
        os.replace(tmp, self.path)
