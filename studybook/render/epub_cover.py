"""The EPUB cover: a PNG drawn with Pillow from the book's metadata, the same bytes every build.

The design (sizes, colours, font family per language) lives in templates/epub/cover.yaml. Fonts
are Noto, found through fontconfig; text is laid out with Pillow's basic layout engine so that the
result does not depend on whether libraqm happens to be installed. PNG output from Pillow carries
no timestamp, so identical input gives identical bytes.
"""

from __future__ import annotations

import hashlib
import io
import math
import re
import shutil
import subprocess
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml
from PIL import Image, ImageDraw, ImageFont

from ..diagnostics import BuildError, Location, Problem
from ..model import Book

# Characters between which a line may break without a space (CJK scripts).
_WIDE = "\u2e80-\u2fff\u3000-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef"
_TOKENS = re.compile(rf"[{_WIDE}]|[^\s{_WIDE}]+|\s+")


@dataclass(frozen=True)
class FontFile:
    path: str
    index: int


def _font_problem(book: Book, message: str) -> BuildError:
    return BuildError([Problem(Location(book.path or "content", 1), message,
                               "install Debian's fonts-noto-core and fonts-noto-cjk (run `make setup`)")])


@cache
def find_font(family: str, weight: str) -> FontFile | None:
    """Ask fontconfig for `family` in `weight`; None unless it really is that Noto family."""
    if not shutil.which("fc-match"):
        return None
    proc = subprocess.run(["fc-match", "-f", "%{file}\n%{index}\n%{family}", f"{family}:style={weight}"],
                          capture_output=True, text=True, check=False)
    lines = proc.stdout.split("\n")
    if proc.returncode != 0 or len(lines) < 3:
        return None
    path, index, families = lines[0], lines[1], lines[2]
    if family.lower() not in [f.strip().lower() for f in families.split(",")] or not Path(path).is_file():
        return None
    return FontFile(path, int(index or 0))


def family_for(language: str, fonts: dict[str, str]) -> str:
    tags = sorted((k for k in fonts if k != "default"), key=len, reverse=True)
    for tag in tags:
        if language.lower() == tag.lower() or language.lower().startswith(tag.lower() + "-"):
            return fonts[tag]
    return fonts["default"]


def _rgb(colour: str) -> tuple[int, int, int]:
    colour = colour.lstrip("#")
    return int(colour[0:2], 16), int(colour[2:4], 16), int(colour[4:6], 16)


def _mix(low: tuple[int, int, int], high: tuple[int, int, int], t: float) -> tuple[int, int, int]:
    return tuple(round(a + (b - a) * t) for a, b in zip(low, high, strict=True))  # type: ignore[return-value]


def wrap(text: str, font: ImageFont.FreeTypeFont, width: float) -> list[str]:
    """Greedy line breaking at spaces, and between any two CJK characters."""
    lines: list[str] = []
    line = ""
    for token in _TOKENS.findall(" ".join(text.split())):
        candidate = line + token
        if line and not token.isspace() and font.getlength(candidate.rstrip()) > width:
            lines.append(line.rstrip())
            line = token
        elif not (token.isspace() and not line):
            line = candidate
    if line.strip():
        lines.append(line.rstrip())
    return lines


class _Painter:
    def __init__(self, book: Book, design: dict):
        self.book = book
        self.design = design
        self.family = family_for(book.language, design["fonts"])
        self.image = Image.new("RGB", (design["width"], design["height"]), _rgb(design["background"]))
        self.draw = ImageDraw.Draw(self.image)
        self.text_width = design["width"] - 2 * design["margin"]

    def font(self, weight: str, size: int) -> ImageFont.FreeTypeFont:
        found = find_font(self.family, weight)
        if found is None:
            raise _font_problem(self.book, f"the cover needs the font '{self.family} {weight}', "
                                           "which fontconfig cannot find")
        return ImageFont.truetype(found.path, size, index=found.index,
                                  layout_engine=ImageFont.Layout.BASIC)

    def motif(self) -> int:
        """Rows of softmax-shaded cells seeded by the book id; returns the y below them."""
        spec = self.design["motif"]
        rows, cols, gap = spec["rows"], spec["columns"], spec["gap"]
        cell = (self.text_width - (cols - 1) * gap) / cols
        for r, colours in enumerate(motif(self.book, self.design)):
            for c, colour in enumerate(colours):
                x0 = self.design["margin"] + c * (cell + gap)
                y0 = spec["top"] + r * (cell + gap)
                self.draw.rectangle((round(x0), round(y0), round(x0 + cell), round(y0 + cell)), fill=colour)
        return round(spec["top"] + rows * cell + (rows - 1) * gap)

    def block(self, text: str, spec: dict, y: float, size: int | None = None) -> float:
        """Draw wrapped text with its first baseline one line below y; return the y under it."""
        size = size or spec["size"]
        font = self.font(spec["weight"], size)
        step = size * spec["line_height"]
        for line in wrap(text, font, self.text_width):
            y += step
            self.draw.text((self.design["margin"], round(y)), line, font=font,
                           fill=_rgb(spec["color"]), anchor="ls")
        return y + step * 0.35

    def title_size(self) -> int:
        spec = self.design["title"]
        size = spec["size"]
        while size > spec["min_size"] and len(wrap(self.book.title, self.font(spec["weight"], size),
                                                   self.text_width)) > spec["max_lines"]:
            size -= 6
        return size

    def paint(self) -> bytes:
        d = self.design
        y: float = self.motif()
        rule = d["rule"]
        y += rule["gap"]
        self.draw.rectangle((d["margin"], y, d["margin"] + self.text_width // 4, y + rule["thickness"]),
                            fill=_rgb(rule["color"]))
        y += rule["thickness"] + rule["gap"] * 0.4
        y = self.block(self.book.title, d["title"], y, self.title_size())
        if self.book.subtitle:
            self.block(self.book.subtitle, d["subtitle"], y + d["subtitle"]["gap"] - d["subtitle"]["size"])
        self.bottom(", ".join(self.book.authors), d["authors"])
        self.bottom(edition_line(self.book), d["edition"])
        buf = io.BytesIO()
        self.image.save(buf, format="PNG", optimize=True)
        return buf.getvalue()

    def bottom(self, text: str, spec: dict) -> None:
        if not text:
            return
        font = self.font(spec["weight"], spec["size"])
        lines = wrap(text, font, self.text_width)
        step = spec["size"] * spec["line_height"]
        y = self.design["height"] - spec["bottom"] - step * (len(lines) - 1)
        for line in lines:
            self.draw.text((self.design["margin"], round(y)), line, font=font, fill=_rgb(spec["color"]),
                           anchor="ls")
            y += step


def load_design(templates: Path) -> dict:
    """The cover design (templates/epub/cover.yaml); the PDF cover is set from it too."""
    return yaml.safe_load((templates / "epub" / "cover.yaml").read_text(encoding="utf-8"))


def motif(book: Book, design: dict) -> list[list[tuple[int, int, int]]]:
    """The colours of the cover's "attention matrix": each row a softmax over shades seeded by the
    book id, its largest weight in the highlight colour. Shared by the EPUB and the PDF cover."""
    spec = design["motif"]
    rows, cols = spec["rows"], spec["columns"]
    seed = hashlib.sha256(f"cover\x1f{book.id}".encode()).digest()
    low, mid, high = _rgb(spec["low"]), _rgb(spec["mid"]), _rgb(spec["high"])
    out = []
    for r in range(rows):
        logits = [seed[(r * cols + c) % len(seed)] / 64 + (3.0 if c == (r * 2 + seed[r]) % cols else 0)
                  for c in range(cols)]
        top = max(logits)
        weights = [math.exp(v - top) for v in logits]
        out.append([high if w == 1.0 else _mix(low, mid, w) for w in weights])
    return out


def edition_line(book: Book) -> str:
    """The line at the foot of the cover: "Second edition · v2.1"."""
    return " · ".join(x for x in (book.edition, book.version and f"v{book.version}") if x)


def render_cover(book: Book, templates: Path) -> bytes:
    return _Painter(book, load_design(templates)).paint()
