"""Chunks of a large book's print outputs kept between builds: an edit lays out only what it changed.

A chunked PDF or quiz (studybook/render/pdf_chunks.py) lays every chunk out twice: once to count
its pages and find its anchors, once with its real first page and its page numbers filled in.
Both results are kept here, in the cache directory, under a key of everything that shapes them:

- the chunk's HTML as handed to WeasyPrint (its text, its CSS, its first page and footnote
  number, the placeholders) and every resource that HTML names (images, formula pictures);
- for the second round, the page of every anchor the chunk links to (the numbers filled in);
- the environment: templates, code, installed distributions, Python, fonts
  (`incremental.environment_digest`); the book's file, identifier and language, the paper size.

So after one edited answer, the chunk holding it is laid out again, and the others come from
here unless their page numbers changed (an edit that adds a page moves every page after it).
What comes from here is the bytes a new layout would give (the layout is deterministic, which
tests/test_layout_cache.py checks against a build with an empty cache).

The build time, which every chunk's HTML carries in its metadata, is left out of the key for
every chunk but the first: the merge takes the document's metadata from the first chunk alone.
Without that, every edit would change every key, since the build time of a build without
SOURCE_DATE_EPOCH is the newest content file's.

Kept: the entries the last build of each (book file, output, paper) used; a build drops that
book's older entries, and those of books whose file is gone (a deleted copy, a test's
temporary book).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from ..diagnostics import Location, Problem

# A change in what a key means, or in what an entry holds, makes every entry unused.
_FORMAT = 1
# The document metadata the merge takes from the first chunk only.
_DATES = re.compile(r'<meta name="dcterms\.(?:created|modified)" content="[^"]*">')
_HREF = re.compile(r'href="#([^"]*)"')


@dataclass(frozen=True)
class LayoutCache:
    directory: Path
    templates: Path

    @cached_property
    def environment(self) -> str:
        """Computed once, when a chunked output first asks (before its workers are forked)."""
        from ..incremental import environment_digest

        return environment_digest(self.templates)

    def key(self, kind: str, html: str, resources: dict[str, tuple[bytes, str]], book: Any, paper: str, *,
            first: bool, pages: dict[str, int] | None = None, **extra: Any) -> str:
        """The key of a layout of `html`: `kind` says which output and round; `first`, whether
        the chunk's metadata goes into the book; `pages`, the book's anchors (round 2: those the
        HTML links to are part of the key); `extra`, anything else the result depends on."""
        h = hashlib.sha256(f"{_FORMAT}\0{kind}\0{self.environment}\0{book.path}\0{Path(book.path).resolve()}\0"
                           f"{book.id}\0{book.language}\0{paper}\0".encode())
        h.update(json.dumps(extra, sort_keys=True, default=repr).encode())
        if pages is not None:
            linked = sorted(set(_HREF.findall(html)))
            h.update(json.dumps([(anchor, pages.get(anchor)) for anchor in linked]).encode())
        h.update(b"\0" + (html if first else _DATES.sub("", html)).encode())
        for url in sorted(url for url in resources if url in html):
            data, media_type = resources[url]
            h.update(f"\0{url}\0{media_type}\0".encode() + hashlib.sha256(data).digest())
        return h.hexdigest()

    # -- entries: <key>.json (a result and its warnings), <key>.pdf (a laid-out chunk)

    def result(self, key: str) -> tuple[Any, list[Problem]] | None:
        try:
            data = json.loads((self.directory / f"{key}.json").read_text(encoding="utf-8"))
            return data["result"], [_problem(p) for p in data["warnings"]]
        except (OSError, ValueError, KeyError, TypeError):
            return None  # none, or unreadable: laid out again

    def keep_result(self, key: str, result: Any, warnings: Iterable[Problem]) -> None:
        text = json.dumps({"result": result, "warnings": [_plain(p) for p in warnings]}, sort_keys=True)
        self._write(f"{key}.json", lambda path: path.write_text(text, encoding="utf-8"))

    def pdf(self, key: str, copy_to: Path) -> bool:
        """Copy the chunk PDF of `key` to `copy_to` (a copy: a concurrent build may drop the
        entry while this one merges); False when there is none."""
        try:
            shutil.copyfile(self.directory / f"{key}.pdf", copy_to)
            return True
        except OSError:
            with contextlib.suppress(OSError):
                copy_to.unlink()
            return False

    def keep_pdf(self, key: str, path: Path) -> None:
        self._write(f"{key}.pdf", lambda target: shutil.copyfile(path, target))

    def _write(self, name: str, write: Any) -> None:
        """Written under a temporary name and renamed, so a reader never sees half an entry; a
        cache that cannot be written costs the next build time, not this one its artifact."""
        target = self.directory / name
        tmp = target.with_name(f"{target.name}.{os.getpid()}.tmp")
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            write(tmp)
            os.replace(tmp, target)
        except OSError:
            with contextlib.suppress(OSError):
                tmp.unlink()

    # -- what is kept

    def used(self, kind: str, book: Any, paper: str, keys: Iterable[str]) -> None:
        """Record the entries this build of `book` used, and drop the ones its last build used
        and this one did not, and those of books whose file is gone."""
        source = str(Path(book.path).resolve())
        scopes = self.directory / "scopes"
        scope = scopes / (hashlib.sha256(f"{kind}\0{source}\0{paper}".encode()).hexdigest()[:24] + ".json")
        keys = sorted(set(keys))
        try:
            scopes.mkdir(parents=True, exist_ok=True)
            old = {scope: _scope(scope)}
            old.update({path: _scope(path) for path in scopes.glob("*.json") if path != scope})
        except OSError:
            return
        for path, (owner, owned) in old.items():
            gone = path != scope and owner is not None and not Path(owner).exists()
            if path == scope or gone:
                self._drop(set(owned) - (set(keys) if path == scope else set()))
            if gone:
                with contextlib.suppress(OSError):
                    path.unlink()
        self._write(f"scopes/{scope.name}",
                    lambda target: target.write_text(json.dumps({"source": source, "keys": keys}), encoding="utf-8"))

    def _drop(self, keys: Iterable[str]) -> None:
        for key in keys:
            for suffix in (".json", ".pdf"):
                with contextlib.suppress(OSError):
                    (self.directory / f"{key}{suffix}").unlink()


def _scope(path: Path) -> tuple[str | None, list[str]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return str(data["source"]), [str(k) for k in data["keys"] if re.fullmatch(r"[0-9a-f]{64}", str(k))]
    except (OSError, ValueError, KeyError, TypeError):
        return None, []


def _plain(problem: Problem) -> dict[str, Any]:
    return {"path": problem.location.path, "line": problem.location.line, "message": problem.message,
            "fix": problem.fix, "warning": problem.warning}


def _problem(data: dict[str, Any]) -> Problem:
    return Problem(Location(str(data["path"]), int(data["line"])), str(data["message"]), str(data["fix"]),
                   bool(data["warning"]))
