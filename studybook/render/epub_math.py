"""Formulas for the EPUB: MathML first, a picture of it for reading systems that lack MathML.

Every `<math>` element carries
  * `alttext`: the LaTeX source, which screen readers announce when they cannot voice MathML and
    which some reading systems print in place of the formula;
  * `altimg` (+ `altimg-width`, `-height`, `-valign`): an SVG picture of the same MathML drawn by
    ziamath with its bundled STIX Two Math font, for reading systems that do not lay out MathML.
SVG is an EPUB core media type, so every conforming reading system can show the picture; the
pictures are plain paths (no fonts, no scripts), so they are also byte-for-byte reproducible.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from html import escape

import ziamath
from ziamath import config as ziaconfig

from ..diagnostics import Problems
from ..mathtex import MATHML_NS, serialize
from ..model import Book, Fragment, Math

PX_PER_EM = 20.0  # drawing size of the pictures; their size in the page is given in em
MARGIN = 1.0  # ziamath's default margin around the drawing, in px


@dataclass(frozen=True)
class Formula:
    element: str  # the <math> element, ready to paste into XHTML
    image: str  # package path of the fallback picture, relative to the content documents
    svg: bytes
    width: float  # typeset width in em, which lets the page shrink formulas too wide for a phone


def book_fragments(book: Book) -> Iterator[Fragment]:
    """Every rich-text block of the book, in reading order."""
    for section in book.sections:
        yield section.body
    for topic in book.topics:
        yield topic.intro
        for q in topic.questions:
            yield q.key_points
            yield q.answer


def formula_key(m: Math) -> str:
    return hashlib.sha256(f"{'D' if m.display else 'I'}\x1f{m.tex}".encode()).hexdigest()[:16]


@contextlib.contextmanager
def _svg11() -> Iterator[None]:
    """ziamath's configuration is global and shared with the PDF renderer: change it briefly."""
    saved = ziaconfig.svg2
    ziaconfig.svg2 = False  # xlink:href, understood by the SVG 1.1 engines of older readers
    try:
        yield
    finally:
        ziaconfig.svg2 = saved


def _fmt(value: float) -> str:
    text = f"{value:.3f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


# Token elements hold characters only (MathML 3, 3.1.9.1); latex2mathml sometimes nests a row in
# one (e.g. `\mathrel{+}` gives <mo><mrow><mo>+</mo></mrow></mo>), which EPUBCheck rejects.
def _picture(m: Math, root: ET.Element) -> tuple[bytes, float, float, float]:
    """SVG bytes plus width, height and baseline offset (negative = below the line) in em."""
    with _svg11():
        drawing = ziamath.Math(copy.deepcopy(root), size=PX_PER_EM, margin=MARGIN)
        svg = drawing.svg()
        bbox = drawing.node.bbox
    width = (bbox.xmax - bbox.xmin + 2 * MARGIN) / PX_PER_EM
    height = (bbox.ymax - bbox.ymin + 2 * MARGIN) / PX_PER_EM
    valign = (bbox.ymin - MARGIN) / PX_PER_EM
    # The title names the picture for assistive technology (ziamath's own puts a fill on it).
    svg = re.sub(r"^(<svg\b[^>]*>)", lambda g: f"{g.group(1)}<title>{escape(alttext(m), quote=False)}</title>", svg)
    data = ('<?xml version="1.0" encoding="UTF-8"?>\n' + svg + "\n").encode("utf-8")
    ET.fromstring(data)  # well-formed, or the bug shows here rather than in a reading system
    return data, width, height, valign


def alttext(m: Math) -> str:
    return " ".join(m.tex.split())


def _element(m: Math, root: ET.Element, image: str, width: float, height: float, valign: float) -> str:
    if root.tag != f"{{{MATHML_NS}}}math":
        raise ValueError("the MathML root is not a namespaced <math> element")
    element = serialize(root, {"alttext": alttext(m), "altimg": image, "altimg-width": f"{_fmt(width)}em",
                                "altimg-height": f"{_fmt(height)}em", "altimg-valign": f"{_fmt(valign)}em"})
    check = ET.fromstring(element)  # every fragment is checked as XML before it is used
    if check.tag != root.tag or check.get("alttext") != alttext(m):
        raise ValueError("the MathML did not survive serialisation")
    return element


class MathTable:
    """Every formula of a book, converted once; identical formulas share one picture."""

    def __init__(self, book: Book, image_dir: str = "math"):
        self._by_key: dict[str, Formula] = {}
        problems = Problems()
        for fragment in book_fragments(book):
            for m in fragment.maths:
                key = formula_key(m)
                if key in self._by_key:
                    continue
                image = f"{image_dir}/m-{key}.svg"
                try:
                    root = ET.fromstring(m.mathml)
                    svg, width, height, valign = _picture(m, root)
                    element = _element(m, root, image, width, height, valign)
                except Exception as exc:  # ziamath and the XML parser raise many types
                    problems.add(m.location, f"formula {m.tex!r} cannot be typeset for the EPUB "
                                 f"({type(exc).__name__}: {exc})",
                                 "simplify the formula or split it into several")
                    continue
                self._by_key[key] = Formula(element=element, image=image, svg=svg, width=width)
        problems.raise_if_any()

    def __getitem__(self, m: Math) -> Formula:
        return self._by_key[formula_key(m)]

    @property
    def formulas(self) -> list[Formula]:
        return [self._by_key[k] for k in sorted(self._by_key)]

