"""A persistent cache of drawn formulas, shared by every output and every build.

Drawing is the expensive part of a formula (ziamath lays out glyph by glyph in pure Python); the
PDF and the EPUB use the same pictures (studybook.mathsvg), and an edit to one answer leaves all the
other formulas as they were. The key is the sha256 of the formula (its LaTeX, display or inline,
and the MathML that is drawn) and of the renderer: the source of studybook/mathsvg.py (size,
scale, margin, precision, the MathML fixes, the drawing code) and the versions of ziamath, ziafont
and latex2mathml. A change to any of them is a different key, so a stale picture is never used;
old entries are simply never asked for again.

One SQLite file holds them all: thousands of formulas in one file, safe for concurrent builds
(SQLite locks), and a damaged or unreadable cache only means drawing again.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import sqlite3
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any


def renderer_fingerprint(*module_files: str) -> str:
    """What besides the formula shapes a picture: the drawing code and the libraries' versions."""
    h = hashlib.sha256()
    for module_file in module_files:
        h.update(hashlib.sha256(Path(module_file).read_bytes()).digest())
    for dist in ("ziamath", "ziafont", "latex2mathml"):
        try:
            h.update(f"\0{dist}={importlib.metadata.version(dist)}".encode())
        except importlib.metadata.PackageNotFoundError:
            h.update(f"\0{dist}=?".encode())
    return h.hexdigest()


class FormulaCache:
    """`lookup` the pictures already drawn; `store` new ones. Values are plain JSON objects."""

    def __init__(self, directory: Path):
        self.path = Path(directory) / "formulas.sqlite"
        self.hits = 0
        self.misses = 0
        self._db: sqlite3.Connection | None = None

    def _connect(self) -> sqlite3.Connection | None:
        if self._db is None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                db = sqlite3.connect(self.path, timeout=60)
                db.execute("CREATE TABLE IF NOT EXISTS picture (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
                self._db = db
            except (OSError, sqlite3.Error):
                return None
        return self._db

    @staticmethod
    def key(fingerprint: str, tex: str, display: bool, mathml: str) -> str:
        return hashlib.sha256(f"{fingerprint}\0{'D' if display else 'I'}\0{tex}\0{mathml}".encode()).hexdigest()

    def lookup(self, keys: Iterable[str], with_svg: bool = True) -> dict[str, dict[str, Any]]:
        """The stored values of `keys` that the cache has; without their "svg" when not
        `with_svg` (SQLite drops it, so the pictures are never all in memory at once)."""
        wanted = list(keys)
        value = "value" if with_svg else "json_remove(value, '$.svg')"
        db = self._connect()
        found: dict[str, dict[str, Any]] = {}
        if db is not None:
            try:
                for i in range(0, len(wanted), 500):  # SQLite's limit on bound parameters
                    chunk = wanted[i:i + 500]
                    rows = db.execute(f"SELECT key, {value} FROM picture WHERE key IN ({','.join('?' * len(chunk))})",
                                      chunk)
                    found.update((k, json.loads(v)) for k, v in rows)
            except (sqlite3.Error, ValueError):
                found = {}
        self.hits += len(found)
        self.misses += len(wanted) - len(found)
        return found

    def store(self, values: dict[str, dict[str, Any]], encode: Callable[[Any], str] = json.dumps) -> bool:
        """Add `values`; False if they could not be stored (they are drawn again next time)."""
        db = self._connect()
        if db is None:
            return False
        if not values:
            return True
        try:
            with db:
                db.executemany("INSERT OR REPLACE INTO picture (key, value) VALUES (?, ?)",
                               [(k, encode(v)) for k, v in values.items()])
        except sqlite3.Error:
            return False  # a read-only or full disk
        return True

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None


class SideTable:
    """Values derived from a formula's LaTeX (its MathML, a measured width), kept across builds in
    a table of the formula cache's SQLite file once `path` is set (`None`: not kept). The key is
    the LaTeX and `fingerprint()`, the code and library versions that derive the value, so a
    change to either is a different key. A cache that cannot be read or written costs time only."""

    def __init__(self, table: str, fingerprint: Callable[[], str]) -> None:
        self.table, self.fingerprint = table, fingerprint
        self.path: Path | None = None
        self._db: tuple[int, sqlite3.Connection] | None = None
        self._prefix = ""

    def connect(self) -> sqlite3.Connection | None:
        if self.path is None:
            return None
        if self._db is None or self._db[0] != os.getpid():  # a forked worker opens its own
            try:
                db = sqlite3.connect(self.path, timeout=60)
                db.execute("PRAGMA synchronous = OFF")  # a cache: a lost row is derived again
                db.execute(f"CREATE TABLE IF NOT EXISTS {self.table} (key TEXT PRIMARY KEY, value NOT NULL)")
            except (OSError, sqlite3.Error):
                self.path = None
                return None
            self._db = (os.getpid(), db)
            self._prefix = self._prefix or self.fingerprint()
        return self._db[1]

    def key(self, tex: str) -> str:
        return hashlib.sha256(f"{self._prefix}\0{tex}".encode()).hexdigest()

    def get(self, tex: str) -> Any:
        db = self.connect()
        if db is None:
            return None
        try:
            row = db.execute(f"SELECT value FROM {self.table} WHERE key = ?", (self.key(tex),)).fetchone()
        except sqlite3.Error:
            return None
        return None if row is None else row[0]

    def put(self, tex: str, value: Any) -> None:
        db = self.connect()
        if db is None:
            return
        try:
            with db:
                db.execute(f"INSERT OR REPLACE INTO {self.table} (key, value) VALUES (?, ?)", (self.key(tex), value))
        except sqlite3.Error:
            pass  # a read-only or busy cache: derived again next time
