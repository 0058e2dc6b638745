"""One renderer per output format: `render(book, options) -> bytes`; none of them reads the source."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

TEMPLATES = Path(__file__).resolve().parent.parent.parent / "templates"


@dataclass(frozen=True)
class Options:
    build_time: int  # seconds since the epoch: SOURCE_DATE_EPOCH, or the newest content file
    templates: Path = TEMPLATES
    paper: str = "a4"  # PDF only: "a4" or "letter"
