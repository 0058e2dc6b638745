"""One diagnostic type with a location, and one way to print it.

Every problem an author can cause is collected as a `Problem` and reported as a single line
``path:line: what is wrong — how to fix it``; the build then stops once, after showing all of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True, order=True)
class Location:
    path: str
    line: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}"


@dataclass(frozen=True, order=True)
class Problem:
    location: Location
    message: str
    fix: str = ""

    def __str__(self) -> str:
        text = f"{self.location}: {self.message}"
        return f"{text} — {self.fix}" if self.fix else text


class BuildError(Exception):
    """Raised once, carrying every problem found, so the author sees them all in one run."""

    def __init__(self, problems: list[Problem]):
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


@dataclass
class Problems:
    items: list[Problem] = field(default_factory=list)

    def add(self, location: Location, message: str, fix: str = "") -> None:
        self.items.append(Problem(location, message, fix))

    def raise_if_any(self) -> None:
        if self.items:
            # Stable order: by file, then line, keeping discovery order for ties.
            raise BuildError(sorted(self.items, key=lambda p: (p.location.path, p.location.line)))


def display_path(path: Path) -> str:
    """Path as the author typed it: relative to the working directory when possible."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)
