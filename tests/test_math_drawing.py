"""The shared formula drawing (studybook.mathsvg), measured in the SVG it produces: Chinese words in
formulas, and the spacing of the glyphs."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pytest

from studybook import mathsvg, mathtex

SVG = "{http://www.w3.org/2000/svg}"
CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")


def draw(tex: str, display: bool = False) -> mathsvg.MathPicture:
    return mathsvg.draw(tex, display, mathtex.to_mathml(tex, display))


class Box:
    """The extent of one drawn glyph, in px of the picture (mathsvg draws 1 em = _SIZE px)."""

    def __init__(self, d: str):
        nums = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", d)]
        xs, ys = nums[0::2], nums[1::2]
        self.left, self.right, self.top, self.bottom = min(xs), max(xs), min(ys), max(ys)


def boxes(tex: str, display: bool = False) -> list[Box]:
    """The glyphs of a formula in drawing order (the order of the MathML, left to right)."""
    return [Box(p.get("d") or "") for p in ET.fromstring(draw(tex, display).svg).iter(f"{SVG}path")]


def em(px: float) -> float:
    return px / mathsvg._SIZE


def glyphs(pic: mathsvg.MathPicture) -> list[tuple[float, float, int]]:
    """(left, right, number of drawing commands) of every glyph path, left to right."""
    out = []
    for path in ET.fromstring(pic.svg).iter(f"{SVG}path"):
        d = path.get("d") or ""
        xs = [float(x) for x in re.findall(r"[ML] (-?[\d.]+) ", d)]
        out.append((min(xs), max(xs), len(re.findall(r"[MLQCZ]", d))))
    return sorted(out)


# ---------------------------------------------------------------------------------------------
# Chinese inside \text{…}


def test_chinese_text_in_a_formula_is_drawn_with_real_glyphs():
    pic = draw(r"\text{中文}=x")
    drawn = glyphs(pic)
    assert len(drawn) == 4  # 中, 文, =, x: one outline each, none left out
    size = mathsvg._SIZE
    for left, right, commands in drawn[:2]:
        # An ideograph nearly fills its em and has many strokes; a missing glyph would be a bare box.
        assert 0.6 * size < right - left < 1.05 * size and commands > 12
    assert drawn[1][0] >= drawn[0][1]  # side by side, not on top of each other


def test_a_character_no_font_has_is_reported():
    with pytest.raises(mathsvg.DrawError, match=r"U\+0E20"):
        draw(r"\text{ภาษา}")


@pytest.mark.slow
def test_chinese_formulas_of_the_zh_edition_are_drawn_in_its_epub(handbook_zh_dist: Path):
    epub = next(handbook_zh_dist.glob("*-zh-CN.epub"))
    with zipfile.ZipFile(epub) as z:
        pictures = {n: z.read(n) for n in z.namelist() if "/math/" in n and n.endswith(".svg")}  # formulas, not figures
    chinese = {n: svg for n, svg in pictures.items()
               if CJK.search(ET.fromstring(svg).findtext(f"{SVG}title") or "")}
    assert len(chinese) >= 5, sorted(pictures)
    for name, svg in chinese.items():
        title = ET.fromstring(svg).findtext(f"{SVG}title") or ""
        words = "".join(re.findall(r"\\text\{([^{}]*)\}", title))
        ideographs = [ch for ch in words if "\u4e00" <= ch <= "\u9fff"]
        wide = [g for g in glyphs(mathsvg.MathPicture("", svg, title, False, 0, 0, 0))
                if g[1] - g[0] > 0.6 * mathsvg._SIZE and g[2] > 12]
        assert len(wide) >= len(ideographs) > 0, name


# ---------------------------------------------------------------------------------------------
# Spacing as TeX sets it (studybook.mathtex for what MathML can say, studybook.mathspacing for the rest)


def test_a_sign_sits_closer_to_its_operand_than_a_subtraction():
    _x, eq, minus, y = boxes(r"x=-y")
    _a, minus2, b = boxes(r"a-b")
    sign, binary = em(y.left - minus.right), em(b.left - minus2.right)
    # side bearings and TeX's nothing for a sign (0.36 em as a binary minus); a medium space for "a − b"
    assert sign < 0.18 and binary > 0.3 and sign < binary / 2, (sign, binary)
    assert em(minus.left - eq.right) > 0.2  # the relation keeps its own space before the sign
    _paren, minus3, one, _close = boxes(r"(-1)")
    _two, minus5, one2 = boxes(r"2-1")
    assert em(one.left - minus3.right) < em(one2.left - minus5.right) - 0.15
    minus4, inf = boxes(r"-\infty")
    _a2, minus6, inf2 = boxes(r"a-\infty")
    assert em(inf.left - minus4.right) < em(inf2.left - minus6.right) - 0.15


def test_no_space_between_a_function_name_and_its_parenthesis():
    glyph = boxes(r"\log(x)")
    g, paren = glyph[2], glyph[3]
    assert em(paren.left - g.right) < 0.08
    glyph = boxes(r"\log x")
    assert em(glyph[3].left - glyph[2].right) > 0.12  # a thin space before an ordinary symbol
    glyph = boxes(r"\operatorname{softmax}(z)")
    assert em(glyph[7].left - glyph[6].right) < 0.08
    glyph = boxes(r"\max(a,b)")
    assert em(glyph[3].left - glyph[2].right) < 0.08
    # no space before a name at the start, after "(" or after a relation beyond the relation's own
    first = boxes(r"\exp(x)")[0]
    assert em(first.left) < 0.1


def test_no_gap_after_partial_and_nabla():
    d, x = boxes(r"\partial x")
    assert em(x.left - d.right) < 0.12  # the side bearings only (the dictionary's gap made 0.22 em)
    nabla, theta, _L = boxes(r"\nabla_\theta L")
    assert em(theta.left - nabla.right) < 0.14  # 0.25 em with the dictionary's gap


def test_cases_columns_are_a_quad_apart():
    glyph = boxes(r"\begin{cases}a, & b\\ c, & d\end{cases}", True)
    _brace, _a, comma, b = glyph[:4]
    assert em(b.left - comma.right) > 0.9


def test_fences_fit_their_content_as_in_tex():
    glyph = boxes(r"\left(\frac{QK^{\top}}{\sqrt{d_k}}+M\right)", True)
    paren, _close = glyph[0], glyph[-1]
    inner = glyph[1:-1]
    content = max(g.bottom for g in inner) - min(g.top for g in inner)
    # TeX's delimiter may fall short of the content by up to 10 % (or 5 pt); ziamath took the next
    # size up, 2.86 em for 2.69 em of content.
    assert (paren.bottom - paren.top) < content, (paren.bottom - paren.top, content)
    assert (paren.bottom - paren.top) > 0.85 * content


def test_limits_of_a_sum_do_not_reach_into_what_precedes_them():
    tex = r"p=\begin{cases}\dfrac{1}{\sum_{u\in V^{(p)}}q(u)}, & x\end{cases}"
    glyph = boxes(tex, True)
    brace = glyph[2]
    assert all(g.left >= brace.right for g in glyph[3:]), [round(g.left, 2) for g in glyph[3:9]]


def _rules(tex: str, display: bool) -> list[Box]:
    """The horizontal rules of a formula (fraction bars, radical overbars), top to bottom."""
    root = ET.fromstring(draw(tex, display).svg)
    rules = []
    for rect in root.iter(f"{SVG}rect"):
        x, y, w, h = (float(rect.get(k) or 0) for k in ("x", "y", "width", "height"))
        rules.append(Box(f"M {x} {y} L {x + w} {y + h}"))
    return sorted(rules, key=lambda r: r.top)


def test_a_sum_in_a_denominator_is_set_in_text_style():
    """The denominator of a display fraction is in text style, as in TeX: the text Σ with its limit
    as a subscript beside it (ziamath set the display Σ with the limit under it, its top 0.15 em
    from the bar), and the operator's thin space after the limit."""
    for tex in (r"p_i=\frac{e^{z_i}}{\sum_{j}e^{z_j}}",
                r"\tilde p=\begin{cases}\dfrac{p(v)}{\sum_{u\in V}p(u)}, & v\in V\\ 0, & \text{otherwise}\end{cases}"):
        display_sum = boxes(r"\sum_{j}e", True)[0]
        glyph = boxes(tex, True)
        bar = _rules(tex, True)[0]
        sigma = min((g for g in glyph if g.top > bar.bottom and bar.left <= g.left <= bar.right),
                    key=lambda g: g.left)  # the denominator's first glyph
        assert (sigma.bottom - sigma.top) < 0.85 * (display_sum.bottom - display_sum.top), tex
        limit, after = glyph[glyph.index(sigma) + 1], glyph[glyph.index(sigma) + 2]
        assert limit.left > sigma.right - 0.05 * mathsvg._SIZE, tex  # beside, not under
        assert em(sigma.top - bar.bottom) >= 0.068, tex  # TeX's least gap in text style
        if tex.startswith("p_i"):
            assert em(after.left - limit.right) > 0.15, em(after.left - limit.right)  # the thin space


def test_a_radical_in_a_denominator_clears_the_bar():
    """A radical's box includes the font's extra ascender above its overbar (TeX does): below a
    fraction bar the two rules are the gap plus that ascender apart, not one rule's width."""
    # Inline, the parts of a fraction are in script size (70 %): so are the gap and the ascender.
    for display, least in ((False, 0.7 * (0.068 + 0.078)), (True, 0.15 + 0.078)):
        bar, overbar = _rules(r"\frac{1}{\sqrt{d_k}}", display)[:2]
        gap = em(overbar.top - bar.bottom)
        assert gap >= least - 0.005, (display, gap)
    # The same inside a sum's argument: the RMSNorm formula of the handbook.
    tex = r"\frac{\mathbf{x}}{\sqrt{\tfrac{1}{d}\sum_{i=1}^{d}x_i^{2}+\epsilon}}"
    bar, overbar = _rules(tex, True)[:2]
    assert em(overbar.top - bar.bottom) >= 0.068 + 0.078 - 0.005
