"""One diagnostic type with a location, and one way to print it.

Every problem an author can cause is collected as a `Problem` and reported as a single line
``path:line: what is wrong — how to fix it`` (``path:line: warning: …`` for a warning); the build
then stops once, after showing all of them. Warnings do not stop a build unless it is strict.
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
    warning: bool = False

    def __str__(self) -> str:
        text = f"{self.location}: {'warning: ' if self.warning else ''}{self.message}"
        return f"{text} — {self.fix}" if self.fix else text


def ordered(problems: list[Problem]) -> list[Problem]:
    """Stable order: by file, then line, keeping discovery order for ties; no duplicates."""
    unique = list(dict.fromkeys(problems))
    return sorted(unique, key=lambda p: (p.location.path, p.location.line))


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

    def warn(self, location: Location, message: str, fix: str = "") -> None:
        self.items.append(Problem(location, message, fix, warning=True))

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.items if not p.warning]

    @property
    def warnings(self) -> list[Problem]:
        return ordered([p for p in self.items if p.warning])

    def raise_if_any(self) -> None:
        """Raise with every problem, warnings included, when there is at least one error."""
        if self.errors:
            raise BuildError(ordered(self.items))


def display_path(path: Path) -> str:
    """Path as the author typed it: relative to the working directory when possible."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)
