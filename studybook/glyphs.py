"""Which characters the PDF can print: the installed fonts' coverage, asked of fontconfig.

WeasyPrint falls back through every font fontconfig knows, so a character prints when any
installed font has it. `check` asks this before any layout, so that a character that would print
as a box is reported at its own line of the source, in seconds rather than after a PDF build.
"""

from __future__ import annotations

import bisect
import functools
import shutil
import subprocess

from .diagnostics import Location, Problems

# Characters that lay out as nothing: controls handled by the text engine, joiners, selectors.
_INVISIBLE = {0x9, 0xA, 0xD, 0x200B, 0x200C, 0x200D, 0x2060, 0xFE0E, 0xFE0F, 0xFEFF}


@functools.cache
def _coverage() -> tuple[list[int], list[int]] | None:
    """Sorted, merged code point ranges of all installed fonts, or None without fontconfig."""
    if shutil.which("fc-list") is None:
        return None
    out = subprocess.run(["fc-list", "--format", "%{charset}\n"], capture_output=True, text=True,
                         check=True).stdout
    ranges: list[tuple[int, int]] = []
    for item in out.split():
        first, _, last = item.partition("-")
        ranges.append((int(first, 16), int(last or first, 16)))
    ranges.sort()
    starts: list[int] = []
    ends: list[int] = []
    for lo, hi in ranges:
        if ends and lo <= ends[-1] + 1:
            ends[-1] = max(ends[-1], hi)
        else:
            starts.append(lo)
            ends.append(hi)
    return starts, ends


def printable(ch: str) -> bool:
    cov = _coverage()
    cp = ord(ch)
    if cov is None or cp < 0x80 or cp in _INVISIBLE or 0xE0100 <= cp <= 0xE01EF:
        return True
    starts, ends = cov
    i = bisect.bisect_right(starts, cp) - 1
    return i >= 0 and cp <= ends[i]


def check_lines(path: str, lines: list[str], problems: Problems, first_line: int = 1) -> None:
    """Report each character no installed font has, at the line it is written on."""
    for n, line in enumerate(lines, start=first_line):
        for ch in dict.fromkeys(c for c in line if not printable(c)):
            problems.add(Location(path, n), f"character {ch!r} (U+{ord(ch):04X}) has no glyph in the "
                         "installed fonts and would print as a box in the PDF",
                         "replace it, or install a font that has it (make installs Noto, Noto CJK and "
                         "Noto Color Emoji)")
