"""One renderer per output format: `render(book, options) -> bytes`; none of them reads the source."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..diagnostics import Problems
from ..notelock import NoteLock
from .layout_cache import LayoutCache

TEMPLATES = Path(__file__).resolve().parent.parent.parent / "templates"


@dataclass(frozen=True)
class Options:
    build_time: int  # seconds since the epoch: SOURCE_DATE_EPOCH, or the newest content file
    templates: Path = TEMPLATES
    paper: str = "a4"  # PDF only: "a4" or "letter"
    # Where a renderer reports warnings (it raises BuildError for errors); the CLI prints them
    # with the reader's, and --strict fails the build on them.
    problems: Problems = field(default_factory=Problems, compare=False)
    # The Anki deck's note lock (read by the CLI when the deck is built; None: no lock), and
    # files a renderer asks to be written with the artifacts (the updated lock).
    note_lock: NoteLock | None = None
    extra_files: list[tuple[Path, bytes]] = field(default_factory=list, compare=False)
    # Where a large book's print outputs keep their chunks' layouts between builds (None: not
    # kept), and what a renderer has to say besides warnings (how many it took from there).
    layout_cache: LayoutCache | None = None
    notes: list[str] = field(default_factory=list, compare=False)
