"""TeX's spacing rules where ziamath 0.13 has its own: documented monkeypatches of the formula drawing.

ziamath follows the MathML operator dictionary, which spaces a formula differently from the TeX the
authors wrote and from the MathJax the Anki cards use. Some rules cannot be expressed in the MathML
(studybook.mathtex sets what can: the form of a unary minus, no space after ∂ and ∇, a quad between
the columns of `cases`), so they are patched into ziamath here, once, by `install`:

- Function names (`\\log`, `\\operatorname{softmax}`, `\\max`): ziamath pads every multi-letter
  identifier with a thin space on both sides, so "log (x)". TeX puts a thin space between an
  operator name and an ordinary symbol ("log x", "a log b") and none before an opening fence, after
  an opening fence or next to a relation or binary operator, which bring their own spaces.
- `\\left…\\right` fences: ziamath takes the smallest size variant that encloses the whole content,
  so a fraction that is a hair taller than a size picks the next, much taller one. TeX lets the
  delimiter fall short of the content's extent about the math axis by 10 % or 5 pt
  (\\delimiterfactor=901, \\delimitershortfall=5pt); that is the rule used here.
- The parts of a fraction are never in display style: TeX sets the numerator and denominator of a
  display fraction (and of `\\dfrac`) in text style. ziamath kept display style for them, so a sum in
  a denominator (`\\frac{e^{z_i}}{\\sum_j e^{z_j}}`) was the large display Σ with its limit under
  it, its top against the fraction bar; in text style it is the text Σ with its limit as a subscript.
- Radicals: ziamath's box of `\\sqrt` ends at the top of the overbar; TeX's adds the font's
  RadicalExtraAscender above it, the clearance that keeps the overbar off a fraction bar above
  (`\\frac{1}{\\sqrt{d_k}}` inline: 0.068 em between the two rules, read as one thick rule).
- Limits of a large operator set as scripts (text style): ziamath attaches them by pulling them back
  over the operator's right space, which then is not put after them; it is, as in TeX.
- Limits under a large operator in display style (`\\sum_{u\\in V^{(p)}}`): ziamath centres them
  under the operator but does not move the operator when they are wider, so they reach back into
  whatever stands before (a fraction bar, the brace of `cases`). As in TeX, the whole atom is as
  wide as its widest part.

The patches touch only the layout of ziamath's nodes; if ziamath's internals change, the tests in
tests/test_math_drawing.py measure the glyph positions and fail.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

ROWS = {"math", "mrow", "mtd", "mstyle", "msqrt", "mpadded", "menclose", "mphantom", "mtr"}
SCRIPTS = {"msub", "msup", "msubsup", "munder", "mover", "munderover"}
OPEN = set("([{⟨⌈⌊")
CLOSE = set(")]}⟩⌉⌋")
PUNCT = set(",;")
LARGE = set("∑∏∐∫∬∭∮⋂⋃⋀⋁")
ORDINARY = set("∂∇∞′″")
THIN = "0.1667em"
DELIMITER_FACTOR = 0.901
DELIMITER_SHORTFALL_EM = 0.5  # 5 pt at TeX's 10 pt

_installed = False


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _edge(el: ET.Element, last: bool) -> ET.Element:
    """The leaf that touches a neighbour: a row's first or last child, a scripted atom's base."""
    tag = _local(el.tag)
    if tag in ROWS and len(el):
        return _edge(el[-1] if last else el[0], last)
    if tag in SCRIPTS and len(el):
        return _edge(el[0], last)
    return el


def _kind(el: ET.Element | None) -> str:
    """TeX's class of an atom, as far as the spacing next to a function name depends on it."""
    if el is None:
        return "none"
    tag = _local(el.tag)
    text = (el.text or "").strip()
    if tag == "mspace":
        return "space"
    if tag == "mi" and len(text) > 1:
        return "op"
    if tag != "mo":
        return "ord"
    if text in OPEN or (el.get("form") == "prefix" and el.get("fence") == "true"):
        return "open"
    if text in CLOSE or (el.get("form") == "postfix" and el.get("fence") == "true"):
        return "close"
    if text in PUNCT:
        return "punct"
    if text in LARGE or (len(text) > 1 and text.isalpha()):
        return "op"
    if text in ORDINARY:
        return "ord"
    return "relbin"


def _neighbours(node: Any) -> tuple[ET.Element | None, ET.Element | None] | None:
    """The atoms left and right of `node` in its row (a scripted base counts as its whole atom), or
    None when `node` is not laid out in a row (or is a copy ziamath measures heights with)."""
    el, parent = node.element, node.parent
    row = getattr(parent, "element", None)
    while row is not None and _local(row.tag) in SCRIPTS and len(row) and row[0] is el:
        el, parent = row, getattr(parent, "parent", None)
        row = getattr(parent, "element", None)
    if row is None or _local(row.tag) not in ROWS:
        return None
    kids = list(row)
    index = next((i for i, kid in enumerate(kids) if kid is el), None)
    if index is None:
        return None
    before = kids[index - 1] if index else None
    after = kids[index + 1] if index + 1 < len(kids) else None
    return (_edge(before, True) if before is not None else None,
            _edge(after, False) if after is not None else None)


def function_name_spaces(node: Any) -> tuple[bool, bool]:
    """Whether TeX puts a thin space before and after the operator name `node`."""
    around = _neighbours(node)
    if around is None:
        return False, False
    before, after = (_kind(el) for el in around)
    parent = getattr(node.parent, "element", None)
    scripted = parent is not None and _local(parent.tag) in SCRIPTS
    return before in {"ord", "close", "punct", "op"}, not scripted and after in {"ord", "op"}


def install() -> None:
    """Patch ziamath (once per process)."""
    global _installed
    if _installed:
        return
    _installed = True
    from ziamath import mathtable
    from ziamath.nodes import mnumber, moperator
    from ziamath.nodes.nodetools import elementtext

    original_getstring = mnumber.Midentifier._getstring

    def getstring(self: Any) -> str:
        text = elementtext(self.element)
        if len(text) <= 1:
            return original_getstring(self)
        before, after = function_name_spaces(self)
        return ("\u2009" if before else "") + text + ("\u2009" if after else "")

    mnumber.Midentifier._getstring = getstring  # type: ignore[method-assign]

    original_setup = moperator.Moperator._setup

    def setup(self: Any, **kwargs: Any) -> None:
        # \max, \min, \lim: ziamath turns these identifiers into operators with a space after.
        if len(self.string) > 1 and self.string.isalpha():
            before, after = function_name_spaces(self)
            self.params["lspace"] = THIN if before else "0em"
            self.params["rspace"] = THIN if after else "0em"
        original_setup(self, **kwargs)

    moperator.Moperator._setup = setup  # type: ignore[method-assign]

    original_minmax = mathtable.MathVariants.getvariant_minmax

    def getvariant_minmax(self: Any, glyphid: int, ymin: float, ymax: float) -> Any:
        if not self.vert:
            return original_minmax(self, glyphid, ymin, ymax)
        covidx = self.coverage.covidx(glyphid)
        if covidx is None:
            return self.font.glyph_fromid(glyphid)
        axis = self.font.math.consts.axisHeight
        delta = max(ymax - axis, axis - ymin)
        em = self.font.info.layout.unitsperem
        need = max(2 * delta * DELIMITER_FACTOR, 2 * delta - DELIMITER_SHORTFALL_EM * em)
        construction = self.construction[covidx]
        for gid in construction.variants.values():
            box = self.font.glyph_fromid(gid).bbox
            if box.ymax - box.ymin >= need:
                return self.font.glyph_fromid(gid)
        if construction.assembly:
            return construction.assembly.assemble(need, self.minoverlap)
        return self.font.glyph_fromid(list(construction.variants.values())[-1])

    mathtable.MathVariants.getvariant_minmax = getvariant_minmax  # type: ignore[method-assign]

    from ziafont.fonttypes import BBox
    from ziamath.nodes import msubsup

    def widen(original: Any) -> Any:
        def run(self: Any, **kwargs: Any) -> None:
            original(self, **kwargs)
            base = self.base
            if base.params.get("movablelimits") != "true":
                return
            if not base.style.displaystyle:
                # Limits set as scripts: ziamath pulls them back over the operator's right space
                # and never puts it after them, so "∑_j e" had no space before the "e".
                space = base.size_px(base.params.get("rspace", "0"))
                self.bbox = BBox(self.bbox.xmin, self.bbox.xmax + space, self.bbox.ymin, self.bbox.ymax)
                return
            shift = -min(x + node.bbox.xmin for (x, _), node in zip(self.nodexy, self.nodes, strict=True))
            if shift > 0:
                self.nodexy = [(x + shift, y) for x, y in self.nodexy]
                self.bbox = BBox(0, self.bbox.xmax + shift, self.bbox.ymin, self.bbox.ymax)
        return run

    msubsup.Msub._setup = widen(msubsup.Msub._setup)  # type: ignore[method-assign]
    msubsup.Msubsup._setup = widen(msubsup.Msubsup._setup)  # type: ignore[method-assign]

    from ziamath.nodes import mfrac, mroot

    original_frac = mfrac.Mfrac.__init__

    def frac_init(self: Any, element: ET.Element, parent: Any, **kwargs: Any) -> None:
        for part in element:  # an explicit \displaystyle inside a part still wins
            if "displaystyle" not in part.attrib:
                part.set("displaystyle", "false")
        original_frac(self, element, parent, **kwargs)

    mfrac.Mfrac.__init__ = frac_init  # type: ignore[method-assign]

    original_root = mroot.Mroot._setup

    def root_setup(self: Any, **kwargs: Any) -> None:
        original_root(self, **kwargs)
        extra = self.units_to_points(self.font.math.consts.radicalExtraAscender)
        self.bbox = BBox(self.bbox.xmin, self.bbox.xmax, self.bbox.ymin, self.bbox.ymax + extra)

    mroot.Mroot._setup = root_setup  # type: ignore[method-assign]
