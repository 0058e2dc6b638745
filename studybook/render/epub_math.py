"""Formulas for the EPUB: MathML first, a picture of it for reading systems that lack MathML.

Every `<math>` element carries
  * `alttext`: the LaTeX source, which screen readers announce when they cannot voice MathML and
    which some reading systems print in place of the formula;
  * `altimg` (+ `altimg-width`, `-height`, `-valign`): the formula's picture from
    studybook.mathsvg, the same drawing the PDF prints, for reading systems that do not lay out
    MathML. SVG is an EPUB core media type, so every conforming reading system can show it.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass

from .. import mathsvg
from ..mathtex import MATHML_NS, serialize
from ..model import Book, Math


@dataclass(frozen=True)
class Formula:
    element: str  # the <math> element, ready to paste into XHTML
    image: str  # package path of the fallback picture, relative to the content documents
    svg: bytes
    width: float  # typeset width in em, which lets the page shrink formulas too wide for a phone


def _fmt(value: float) -> str:
    text = f"{value:.3f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def _element(m: Math, pic: mathsvg.MathPicture, image: str) -> str:
    root = ET.fromstring(m.mathml)
    if root.tag != f"{{{MATHML_NS}}}math":
        raise ValueError("the MathML root is not a namespaced <math> element")
    element = serialize(root, {"alttext": pic.alt, "altimg": image,
                               "altimg-width": f"{_fmt(pic.width_em)}em",
                               "altimg-height": f"{_fmt(pic.height_em)}em",
                               "altimg-valign": f"{_fmt(-pic.depth_em)}em"})
    check = ET.fromstring(element)  # every fragment is checked as XML before it is used
    if check.tag != root.tag or check.get("alttext") != pic.alt:
        raise ValueError("the MathML did not survive serialisation")
    return element


class MathTable:
    """Every formula of a book as MathML with its picture; identical formulas share one picture."""

    def __init__(self, book: Book, image_dir: str = "math"):
        pictures = mathsvg.draw_all(book)
        self._by_key: dict[str, Formula] = {}
        for fragment in book.fragments():
            for m in fragment.maths:
                key = mathsvg.key(m)
                if key not in self._by_key:
                    pic = pictures[m]
                    image = f"{image_dir}/m-{key}.svg"
                    self._by_key[key] = Formula(_element(m, pic, image), image, pic.svg, pic.width_em)

    def __getitem__(self, m: Math) -> Formula:
        return self._by_key[mathsvg.key(m)]

    @property
    def formulas(self) -> list[Formula]:
        return [self._by_key[k] for k in sorted(self._by_key)]
