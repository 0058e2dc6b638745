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

from .. import mathbreak, mathsvg
from ..mathtex import MATHML_NS, serialize, to_mathml
from ..model import Book, Math

# The measure of a phone held upright (390 CSS px less a reader's margins, at 16 px) in em of the
# math font: display formulas wider than this are broken into lines (see studybook.mathbreak).
PHONE_MEASURE = 19.0


@dataclass(frozen=True)
class Formula:
    element: str  # the <math> element, ready to paste into XHTML
    image: str  # package path of the fallback picture, relative to the content documents
    svg: bytes
    lines: int = 1


def _fmt(value: float) -> str:
    text = f"{value:.3f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def _m(tag: str, **attrs: str) -> ET.Element:
    return ET.Element(f"{{{MATHML_NS}}}{tag}", attrs)


def _broken(m: Math, lines: list[mathbreak.Line]) -> ET.Element:
    """One <math> whose lines are the rows of a left-aligned table: MathML cannot break a line,
    but it can stack them. Each row is in display style (a table's cells are not, by default);
    a continuation row is indented. (displaystyle sits on an mstyle: MathML 3, which EPUBCheck
    validates against, allows it there and not on mrow.)"""
    root = ET.fromstring(m.mathml)
    for child in list(root):
        root.remove(child)
    table = _m("mtable", columnalign="left", displaystyle="true")
    table.set("class", "math-lines")
    for line in lines:
        row, cell = _m("mtr"), _m("mtd", columnalign="left")
        content = _m("mstyle", displaystyle="true")
        if line.indent:
            content.append(_m("mspace", width="2em"))
        content.extend(list(ET.fromstring(to_mathml(line.tex, display=True))))
        cell.append(content)
        row.append(cell)
        table.append(row)
    root.append(table)
    return root


def _fixed_size(root: ET.Element) -> ET.Element:
    """`\\big(` and its kin as glyphs of one size, not stretched ones.

    latex2mathml writes them as stretchy operators with minsize = maxsize. MathML Core gives a
    stretchy operator the inline size of the widest of the font's size variants (so that its width
    does not depend on how far it stretches); with STIX Two Math a `\\big(` then carries a third of
    an em of empty space after its glyph ("Attention( QW"). A `\\big` delimiter has one size in
    TeX anyway: the normal glyph, scaled to it, keeps its own width.
    """
    for el in root.iter(f"{{{MATHML_NS}}}mo"):
        size = el.get("minsize")
        if size and size == el.get("maxsize"):
            del el.attrib["minsize"], el.attrib["maxsize"]
            el.set("stretchy", "false")
            el.set("mathsize", size)
    return root


# Operator names whose subscript TeX sets under them in a display (\\max_{\\pi}, \\lim_{n}).
_LIMITS = frozenset({"max", "min", "lim", "sup", "inf", "argmax", "argmin", "det", "Pr", "gcd"})


def _movable_limits(root: ET.Element) -> ET.Element:
    """`\\max_i` as an operator whose limit goes under it in a display formula and beside it in
    text, as in TeX. latex2mathml writes a subscripted identifier, which a MathML renderer always
    sets beside ("max_πθ" in a display); the formula pictures get this right on their own."""
    for el in root.iter():
        tag = el.tag.rsplit("}", 1)[-1]
        if tag not in ("msub", "msubsup") or not len(el):
            continue
        base = el[0]
        if base.tag != f"{{{MATHML_NS}}}mi" or (base.text or "").strip() not in _LIMITS:
            continue
        el.tag = f"{{{MATHML_NS}}}{'munder' if tag == 'msub' else 'munderover'}"
        base.tag = f"{{{MATHML_NS}}}mo"
        base.attrib.update({"movablelimits": "true", "lspace": "0em", "rspace": "0em"})
    return root


_PRIMES = frozenset("\u2032\u2033\u2034")


def _primes(root: ET.Element) -> ET.Element:
    """`f'` as f followed by the prime, not with the prime as a superscript: the font's prime is
    already drawn high, and set as a script a MathML renderer shrinks and raises it again (a
    speck above the letter, "f ˊ"). The formula pictures get this right on their own."""
    for el in root.iter(f"{{{MATHML_NS}}}msup"):
        if len(el) == 2 and (el[1].text or "").strip() in _PRIMES and not len(el[1]):
            el.tag = f"{{{MATHML_NS}}}mrow"
    return root


def _element(m: Math, pic: mathsvg.MathPicture, image: str, lines: list[mathbreak.Line] | None = None) -> str:
    root = _broken(m, lines) if lines and len(lines) > 1 else ET.fromstring(m.mathml)
    # What Chromium's MathML sets otherwise than TeX, fixed in the EPUB's MathML only.
    root = _primes(_movable_limits(_fixed_size(root)))
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
                    lines = mathbreak.break_lines(m.tex, PHONE_MEASURE) if m.display else None
                    self._by_key[key] = Formula(_element(m, pic, image, lines), image, pic.svg,
                                                len(lines) if lines else 1)

    def __getitem__(self, m: Math) -> Formula:
        return self._by_key[mathsvg.key(m)]

    @property
    def formulas(self) -> list[Formula]:
        return [self._by_key[k] for k in sorted(self._by_key)]
